"""Shape the dashboard's numbers for the SVG chart macros of ``templates/_charts.html``.

Pure: plain values in, plain dicts out, so templates only draw.
"""

from __future__ import annotations

from datetime import date

from cs_app.health.scoring import (
    AT_RISK,
    BAND_SEVERITY,
    BANDS,
    CRITICAL,
    NOT_SCORED,
    band_label,
)
from cs_app.money import compact_money

# the dashboard's chart tones are named after the bands (dashboards.css colours them)
BAND_TONES = {**{band: band for band in BANDS}, NOT_SCORED: "pale"}


def week_label(start: date) -> str:
    return f"{start:%b} {start.day}"


def one_bar_per_category(categories: list[str], values: list[int], tones: list[str]) -> list[dict]:
    """Series for a stacked bar chart in which each category has its own colour."""
    return [
        {
            "name": name,
            "tone": tone,
            "values": [value if index == position else 0 for index in range(len(categories))],
        }
        for position, (name, value, tone) in enumerate(zip(categories, values, tones, strict=True))
    ]


def band_series(
    bands: list[str], labels: dict[str, str], counts_by_band: dict[str, list[int]]
) -> list[dict]:
    """One stacked series per band, in band order, skipping bands that are zero throughout."""
    return [
        {"name": labels[band], "tone": BAND_TONES.get(band, "grey"), "values": counts_by_band[band]}
        for band in bands
        if any(counts_by_band.get(band, []))
    ]


def share_segments(items: list[tuple[str, str, int, str]]) -> list[dict]:
    """Segments of a horizontal 100 % bar: (name, tone, value, label) → dicts, zeros dropped."""
    return [
        {"name": name, "tone": tone, "value": value, "label": label}
        for name, tone, value, label in items
        if value
    ]


WORKLOAD_CHART_LIMIT = 12
CONFIDENT_BANDS = tuple(BAND_SEVERITY)  # always charted, even when empty


def portfolio_charts(
    data, bands: tuple[str, ...], scored_bands: tuple[str, ...], labels: dict[str, str]
) -> dict:
    """Every chart of the portfolio page, from a ``queries.Portfolio``."""
    band_rows = data.bands.rows
    charted = [row for row in band_rows if row.accounts or row.band in CONFIDENT_BANDS]
    by_band = one_bar_per_category(
        [row.label for row in charted],
        [row.accounts for row in charted],
        [BAND_TONES[row.band] for row in charted],
    )
    arr_shares = [
        {
            "currency": currency,
            "segments": share_segments(
                [
                    (
                        row.label,
                        BAND_TONES[row.band],
                        row.arr.get(currency, 0),
                        compact_money(row.arr.get(currency, 0), currency),
                    )
                    for row in band_rows
                ]
            ),
        }
        for currency in data.bands.currencies
    ]
    weeks = data.trend.weeks
    trend = {
        "categories": [week_label(week.start) for week in weeks],
        "series": band_series(
            list(scored_bands), labels, {band: data.trend.series(band) for band in scored_bands}
        ),
    }
    windows = data.renewals.windows
    renewals = {
        "categories": [window.label for window in windows],
        "series": band_series(
            list(bands), labels, {band: [w.by_band.get(band, 0) for w in windows] for band in bands}
        ),
    }
    busiest = sorted(data.workload.rows, key=lambda row: -row.accounts)[:WORKLOAD_CHART_LIMIT]
    busiest.sort(key=lambda row: (row.csm_id is None, (row.csm_name or "").lower()))
    workload = {
        "categories": [row.name.split(" (")[0] for row in busiest],
        "series": [
            s
            for s in (
                {
                    "name": band_label(CRITICAL),
                    "tone": CRITICAL,
                    "values": [r.critical for r in busiest],
                },
                {
                    "name": band_label(AT_RISK),
                    "tone": AT_RISK,
                    "values": [r.at_risk for r in busiest],
                },
                {
                    "name": "Other accounts",
                    "tone": "slate",
                    "values": [r.accounts - r.at_risk - r.critical for r in busiest],
                },
            )
            if any(s["values"])
        ],
        "truncated": len(data.workload.rows) - len(busiest),
    }
    segments = data.coverage.segments
    coverage = {
        "categories": [row.segment for row in segments],
        "series": [
            {
                "name": "With an active plan",
                "tone": "healthy",
                "values": [row.covered for row in segments],
            },
            {
                "name": "Without",
                "tone": "pale",
                "values": [row.accounts - row.covered for row in segments],
            },
        ],
    }
    kind_tones = {"risk": "red", "expansion": "green", "lifecycle": "blue", "renewal": "purple"}
    firings = {
        "categories": [week_label(week) for week in data.firings.weeks],
        "series": [
            {"name": kind.capitalize(), "tone": kind_tones.get(kind, "slate"), "values": values}
            for kind, values in data.firings.by_kind.items()
            if any(values)
        ],
    }
    sla_weeks = data.routing.weeks
    sla = {
        "categories": [week_label(week.start) for week in sla_weeks],
        "series": [
            {"name": "Within SLA", "tone": "green", "values": [w.within_sla for w in sla_weeks]},
            {
                "name": "Late",
                "tone": "red",
                "values": [w.resolved - w.within_sla for w in sla_weeks],
            },
        ],
    }
    short = {"insufficient_data": "No data"}
    return {
        "by_band": by_band,
        "band_categories": [short.get(row.band, row.label) for row in charted],
        "arr_shares": arr_shares,
        "trend": trend,
        "renewals": renewals,
        "workload": workload,
        "coverage": coverage,
        "firings": firings,
        "sla": sla,
    }
