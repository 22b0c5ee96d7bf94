"""The rule backtest page: ``/rules/<rule_id>/backtest``.

Everyone signed in may look (a backtest only reads). The form is a GET with the number of days
to replay (90 unless asked otherwise); a refused number is shown beside the field with what was
typed. The view prepares the chart points and tables; ``triggers.rules.backtest`` does the replay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, render_template, request
from flask_login import login_required
from wtforms import Form, IntegerField
from wtforms.validators import InputRequired, NumberRange

from cs_app.accounts.signal_format import signal_label
from cs_app.db_types import utcnow
from cs_app.health.scoring import BAND_LABELS
from cs_app.triggers.rules import service
from cs_app.triggers.rules.backtest import MAX_DAYS, RuleBacktest, backtest_rule
from cs_app.triggers.rules.forms import condition_text, once_text

bp = Blueprint("rule_backtests", __name__, url_prefix="/rules")

DEFAULT_DAYS = 90
ACCOUNTS_SHOWN = 200


@bp.before_request
@login_required
def require_sign_in() -> None:
    """A backtest reads the history of every account: signed-in users only."""


class BacktestForm(Form):
    days = IntegerField(
        "Days to replay",
        default=DEFAULT_DAYS,
        validators=[
            InputRequired(f"Enter a number of days from 1 to {MAX_DAYS}."),
            NumberRange(1, MAX_DAYS, f"Enter a number of days from 1 to {MAX_DAYS}."),
        ],
    )


def _chart(result: RuleBacktest) -> dict[str, Any]:
    """One point per day of the window (zero on days without firings), weekly ticks."""
    days = [result.start + timedelta(days=offset) for offset in range(result.days)]
    points = [
        {
            "x": index,
            "y": result.firings_by_day.get(day, 0),
            "label": f"{day.isoformat()}: {result.firings_by_day.get(day, 0)}",
        }
        for index, day in enumerate(days)
    ]
    step = max(1, len(days) // 6)
    ticks = [
        {"x": index, "label": day.strftime("%b %d")}
        for index, day in enumerate(days)
        if index % step == 0
    ]
    top = max([p["y"] for p in points] + [1])
    nice = next(
        n
        for n in (
            4,
            8,
            20,
            40,
            80,
            200,
            400,
            800,
            2000,
            4000,
            8000,
            20000,
            40000,
            80000,
            200000,
            400000,
            10**9,
        )
        if n >= top
    )
    return {
        "series": [{"name": "Firings", "tone": "blue", "points": points}],
        "x_max": max(1, len(days) - 1),
        "ticks": ticks,
        "y_max": nice,
        "y_ticks": [nice * k / 4 for k in range(5)],
    }


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def _view(result: RuleBacktest) -> dict[str, Any]:
    accounts = sorted(result.accounts, key=lambda a: (a.fired_on[0], a.name))
    rates, base = result.outcome_rates(), result.base_rates
    return {
        "result": result,
        "chart": _chart(result),
        "accounts": accounts[:ACCOUNTS_SHOWN],
        "accounts_hidden": max(0, len(accounts) - ACCOUNTS_SHOWN),
        "outcomes": [
            (label, result.outcome_counts()[name], _share(rates[name]), _share(base.get(name)))
            for name, label in (("churned", "Churned"), ("expanded", "Expanded"))
        ],
        "band_moves": result.band_moves(),
        "current_signals": [signal_label(key) for key in result.signals_at_current_value],
        "history_signals": [signal_label(key) for key in result.signals_with_history],
    }


@bp.route("/<int:rule_id>/backtest")
def show(rule_id: int):
    rule = service.get_rule(rule_id)
    form = BacktestForm(request.args)
    view = None
    if not request.args or form.validate():
        view = _view(backtest_rule(rule, days=form.days.data or DEFAULT_DAYS, now=utcnow()))
    return render_template(
        "rules/backtest.html",
        rule=rule,
        form=form,
        view=view,
        condition=condition_text(rule.condition),
        once=once_text(rule),
        bands=BAND_LABELS,
    )
