"""CSV downloads of each dashboard chart's data, with the same filters as the page.

Money is written in major units with two decimals and one column per currency (``arr_usd``),
so a spreadsheet sums it without parsing; cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``) are prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import date

from cs_app.csv_cells import neutralise_formula
from cs_app.dashboards import queries, routing_queries
from cs_app.dashboards.queries import DashboardFilters
from cs_app.money import to_major


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    return neutralise_formula(str(value))


def _amount(minor: int | None) -> str:
    return "" if minor is None else f"{to_major(minor):.2f}"


def _arr_columns(currencies: Iterable[str]) -> list[str]:
    return [f"arr_{currency.lower()}" for currency in currencies]


def _arr_cells(arr: dict[str, int], currencies: Iterable[str]) -> list[str]:
    return [_amount(arr.get(currency, 0)) for currency in currencies]


def bands(filters: DashboardFilters, today: date) -> tuple[list[str], list[list]]:
    summary = queries.band_summary(filters)
    header = ["band", "label", "accounts", "share_pct", *_arr_columns(summary.currencies)]
    rows = [
        [
            row.band,
            row.label,
            row.accounts,
            round(100 * row.share, 1),
            *_arr_cells(row.arr, summary.currencies),
        ]
        for row in summary.rows
    ]
    return header, rows


def renewals(filters: DashboardFilters, today: date) -> tuple[list[str], list[list]]:
    header = [
        "external_id",
        "account",
        "renewal_date",
        "days_to_renewal",
        "window_days",
        "arr",
        "currency",
        "band",
        "health_score",
        "csm",
    ]
    rows = [
        [
            line.external_id,
            line.name,
            line.renewal_date.isoformat(),
            line.days_to_renewal,
            line.window,
            _amount(line.arr_minor),
            line.currency,
            line.band,
            line.health_score,
            line.csm_name or "",
        ]
        for line in queries.renewal_lines(filters, today)
    ]
    return header, rows


def trend(filters: DashboardFilters, today: date) -> tuple[list[str], list[list]]:
    health = queries.health_trend(filters, today)
    header = ["week_start", *queries.SCORED_BANDS, "total"]
    rows = [
        [
            week.start.isoformat(),
            *(week.counts.get(band, 0) for band in queries.SCORED_BANDS),
            week.total,
        ]
        for week in health.weeks
    ]
    return header, rows


def movements(filters: DashboardFilters, today: date) -> tuple[list[str], list[list]]:
    header = [
        "external_id",
        "account",
        "csm",
        "band_30d_ago",
        "score_30d_ago",
        "band_now",
        "score_now",
        "score_change",
        "arr",
        "currency",
    ]
    rows = [
        [
            m.external_id,
            m.name,
            m.csm_name or "",
            m.band_before,
            m.score_before,
            m.band_now,
            m.score_now,
            m.score_change,
            _amount(m.arr_minor),
            m.currency,
        ]
        for m in queries.movement_lines(filters, today)
    ]
    return header, rows


def workload(filters: DashboardFilters, today: date) -> tuple[list[str], list[list]]:
    data = queries.csm_workload(filters, today)
    header = [
        "csm",
        "accounts",
        *_arr_columns(data.currencies),
        "at_risk",
        "critical",
        "overdue_actions",
        "plans_review_overdue",
        "open_queue_items",
        "sla_breaches",
    ]
    rows = [
        [
            row.name,
            row.accounts,
            *_arr_cells(row.arr, data.currencies),
            row.at_risk,
            row.critical,
            row.overdue_actions,
            row.stale_plans,
            row.open_items,
            row.sla_breaches,
        ]
        for row in data.rows
    ]
    return header, rows


def firings(filters: DashboardFilters, today: date) -> tuple[list[str], list[list]]:
    data = routing_queries.firings_per_week(filters, queries.trend_weeks(today))
    kinds = list(data.by_kind)
    header = ["week_start", *(f"{kind}_firings" for kind in kinds), "total"]
    rows = [
        [
            week.isoformat(),
            *(data.by_kind[kind][index] for kind in kinds),
            sum(data.by_kind[kind][index] for kind in kinds),
        ]
        for index, week in enumerate(data.weeks)
    ]
    return header, rows


def routing(filters: DashboardFilters, today: date) -> tuple[list[str], list[list]]:
    data = routing_queries.routing_summary(filters, queries.trend_weeks(today))
    header = ["week_start", "resolved", "resolved_within_sla", "sla_attainment_pct"]
    rows = [
        [
            week.start.isoformat(),
            week.resolved,
            week.within_sla,
            None if week.attainment is None else round(100 * week.attainment, 1),
        ]
        for week in data.weeks
    ]
    return header, rows


def coverage(filters: DashboardFilters, today: date) -> tuple[list[str], list[list]]:
    data = queries.plan_coverage(filters, today)
    header = ["segment", "accounts", "with_active_plan", "without_active_plan", "coverage_pct"]
    rows = [
        [
            row.segment,
            row.accounts,
            row.covered,
            row.accounts - row.covered,
            round(100 * row.share, 1),
        ]
        for row in data.segments
    ]
    rows.append(
        ["All", data.accounts, data.covered, data.uncovered_total, round(100 * data.share, 1)]
    )
    return header, rows


def stale_plans(filters: DashboardFilters, today: date) -> tuple[list[str], list[list]]:
    header = [
        "plan_id",
        "plan",
        "external_id",
        "account",
        "owner",
        "next_review_on",
        "days_overdue",
        "band",
    ]
    rows = [
        [
            plan.id,
            plan.title,
            plan.account_external_id,
            plan.account_name,
            plan.owner_name,
            plan.next_review_on.isoformat(),
            plan.days_overdue,
            plan.band,
        ]
        for plan in queries.stale_plan_lines(filters, today)
    ]
    return header, rows


WIDGETS: dict[str, Callable[[DashboardFilters, date], tuple[list[str], list[list]]]] = {
    "bands": bands,
    "renewals": renewals,
    "trend": trend,
    "movements": movements,
    "workload": workload,
    "coverage": coverage,
    "stale-plans": stale_plans,
    "firings": firings,
    "routing": routing,
}


def widget_csv(widget: str, filters: DashboardFilters, today: date) -> str:
    header, rows = WIDGETS[widget](filters, today)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return buffer.getvalue()
