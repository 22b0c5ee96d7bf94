"""Health in the browser: the health card of the account page (score, explanation, what
changed, trend, signals, override), and the scorecard pages for leads (list, detail with
versions and audit log, editor with what-if, backtest).

Views parse, call ``cs_app.health.service`` (or ``backtest``) and render; everything the
templates show is prepared here so templates run no queries.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from cs_app.accounts import service as account_service
from cs_app.accounts.models import SEGMENTS, Account
from cs_app.accounts.page import render_account_page
from cs_app.accounts.signal_catalog import CATEGORY, METRIC_PREFIX, SIGNALS
from cs_app.accounts.signal_format import signal_label
from cs_app.audit import service as audit
from cs_app.auth.permissions import can_edit_account, can_lead, require
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.form_errors import EXPIRED, show_errors_above
from cs_app.health import queries, service
from cs_app.health.backtest import backtest as run_backtest
from cs_app.health.forms import (
    ALL_ACCOUNTS_LABEL,
    KIND_GROUPS,
    MeasureRow,
    OverrideForm,
    ScorecardForm,
    read_rows,
    show_errors,
    with_blank_rows,
)
from cs_app.health.models import Scorecard, ScorecardVersion
from cs_app.health.panel import OVERRIDE_PREFIX
from cs_app.health.scoring import BAND_LABELS, BANDS
from cs_app.numbers import format_number

bp = Blueprint("health", __name__)

BAND_TONES = {
    "healthy": "green",
    "at_risk": "amber",
    "critical": "red",
    "insufficient_data": "grey",
}
OUTCOME_GROUPS = (("churned", "Churned"), ("expanded", "Expanded"), ("retained", "Retained"))
BACKTEST_WINDOWS = (90, 180, 365)
BACKTEST_LEADS = (14, 30, 60, 90)


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Every health page needs a signed-in user."""


def _editable_account(external_id: str) -> Account:
    account = account_service.get_account(external_id)
    if not can_edit_account(current_user, account):
        abort(403)
    return account


def _account_page(account: Account, form: OverrideForm, status: int):
    return render_account_page(account, status=status, override_form=form)


@bp.route("/accounts/<external_id>/health/override", methods=["POST"])
def set_override(external_id: str):
    account = _editable_account(external_id)
    form = OverrideForm(prefix=OVERRIDE_PREFIX)
    if not form.validate_on_submit():
        form.form_errors.append(EXPIRED)
        return _account_page(account, form, 400)
    try:
        override = service.set_override(account, form.values(), user=current_user, now=utcnow())
    except ValidationError as error:
        db.session.rollback()
        show_errors_above(form, error)
        return _account_page(account, form, 422)
    db.session.commit()
    what = " and ".join(
        filter(
            None,
            (
                BAND_LABELS[override.band] if override.band else None,
                f"score {format_number(override.score)}" if override.score is not None else None,
            ),
        )
    )
    flash(f"Health overridden to {what} until {override.expires_at.date().isoformat()}.", "success")
    return redirect(url_for("accounts.show", external_id=account.external_id, _anchor="health"))


@bp.route("/accounts/<external_id>/health/override/clear", methods=["POST"])
def clear_override(external_id: str):
    account = _editable_account(external_id)
    if service.clear_override(account, user=current_user, now=utcnow()):
        db.session.commit()
        flash("Override cleared: the computed score applies again.", "success")
    else:
        flash("There was no active override to clear.", "info")
    return redirect(url_for("accounts.show", external_id=account.external_id, _anchor="health"))


# --- scorecards -----------------------------------------------------------------------------


@bp.route("/scorecards")
def scorecards():
    return render_template(
        "health/scorecards.html",
        rows=queries.scorecard_rows(),
        all_accounts=ALL_ACCOUNTS_LABEL,
        can_author=can_lead(current_user),
    )


def _measure_view(measure) -> dict[str, Any]:
    return {
        "label": measure.label,
        "key": measure.key,
        "signal": measure.signal,
        "signal_label": signal_label(measure.signal),
        "weight": measure.weight,
        "higher_is_better": measure.higher_is_better,
        "healthy": measure.healthy,
        "critical": measure.critical,
        "categories": measure.categories,
        "freshness_days": measure.freshness_days,
    }


def _audit_changes(event) -> list[str]:
    """What an audit event changed, in words: fields, limits, measures added, removed and
    re-weighted."""
    before, after = event.before or {}, event.after or {}
    if not before:
        return [f"created with {len(after.get('measures') or [])} measures"]
    changes = []
    names = {
        "name": "name",
        "segment": "segment",
        "healthy_min": "healthy from",
        "at_risk_min": "at risk from",
        "coverage_floor": "coverage floor",
    }
    for key, label in names.items():
        if before.get(key) != after.get(key):
            changes.append(f"{label}: {_plain(before.get(key))} → {_plain(after.get(key))}")
    old = {m["key"]: m for m in before.get("measures") or []}
    new = {m["key"]: m for m in after.get("measures") or []}
    for key in new.keys() - old.keys():
        changes.append(f"added {new[key]['label']} ({_plain(new[key]['weight'])} %)")
    for key in old.keys() - new.keys():
        changes.append(f"removed {old[key]['label']}")
    for key in sorted(new.keys() & old.keys()):
        for part, label in (
            ("weight", "weight"),
            ("healthy", "healthy"),
            ("critical", "critical"),
            ("signal", "signal"),
            ("freshness_days", "freshness"),
            ("categories", "categories"),
            ("higher_is_better", "direction"),
        ):
            if old[key].get(part) != new[key].get(part):
                changes.append(
                    f"{new[key]['label']} {label}: {_plain(old[key].get(part))} → "
                    f"{_plain(new[key].get(part))}"
                )
    return changes or ["no change to the definition"]


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "higher is better" if value else "lower is better"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


@bp.route("/scorecards/<int:scorecard_id>")
def scorecard(scorecard_id: int):
    card = service.get_scorecard(scorecard_id)
    version = card.current_version
    events = audit.events_for("scorecard", card.id)
    return render_template(
        "health/scorecard.html",
        card=card,
        version=version,
        measures=[_measure_view(m) for m in version.measures] if version else [],
        versions=card.versions,
        events=[(e, _audit_changes(e)) for e in events],
        all_accounts=ALL_ACCOUNTS_LABEL,
        can_author=can_lead(current_user),
        band_labels=BAND_LABELS,
    )


def _signal_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        (title, [(key, s.label) for key, s in SIGNALS.items() if s.kind == kind])
        for kind, title in KIND_GROUPS
    ]


def _render_form(
    form: ScorecardForm,
    rows: list[MeasureRow],
    card: Scorecard | None,
    *,
    status: int = 200,
    general: list[str] | None = None,
    preview: dict[str, Any] | None = None,
    error: ValidationError | None = None,
):
    filled = [r for r in rows if not r.skipped]
    weights = [r.weight_number for r in filled]
    total = sum(w for w in weights if w is not None)
    return render_template(
        "health/scorecard_form.html",
        form=form,
        rows=rows,
        card=card,
        signal_groups=_signal_groups(),
        signals=SIGNALS,
        general=general or [],
        total_weight=total,
        weights_complete=None not in weights,
        preview=preview,
        band_labels=BAND_LABELS,
        category_kind=CATEGORY,
        metric_prefix=METRIC_PREFIX,
        weights_error=error.fields.get("weights") if error else None,
        measures_error=error.fields.get("measures") if error else None,
    ), status


def _preview(card: Scorecard, values: dict[str, Any]) -> dict[str, Any]:
    """The what-if counts of the service and, for a saved scorecard, which accounts move
    from which band to which."""
    now = utcnow()
    result = service.what_if(card, values, now=now)
    movements = queries.band_movements(card, values, now=now)
    bands = result["bands"]
    return {
        "bands": bands,
        "accounts": result["accounts"],
        "changed": sum(movements.values()),
        "movements": sorted(movements.items(), key=lambda item: -item[1]),
        "chart": {
            "categories": [BAND_LABELS[b["band"]] for b in bands],
            "series": [
                {
                    "name": "Current version",
                    "tone": "slate",
                    "values": [b["current"] for b in bands],
                },
                {"name": "Proposed", "tone": "blue", "values": [b["proposed"] for b in bands]},
            ],
        },
        "new": card.id is None,
    }


def _scorecard_editor(card: Scorecard | None):
    if request.method == "GET":
        form = ScorecardForm(formdata=None)
        rows: list[MeasureRow] = []
        if card is not None:
            definition = service.scorecard_as_dict(card)
            form.load(definition)
            rows = [MeasureRow.from_measure(m) for m in definition["measures"]]
            del form.key  # fixed once the scorecard exists
        else:
            form.healthy_min.data, form.at_risk_min.data = "70", "40"
            form.coverage_floor.data = "50"
        return _render_form(form, with_blank_rows(rows), card)
    form = ScorecardForm()
    if card is not None:
        del form.key
    rows = read_rows(request.form)
    if not form.validate_on_submit():
        return _render_form(form, with_blank_rows(rows), card, status=400, general=[EXPIRED])
    values = form.values(rows)
    previewing = request.form.get("action") == "preview"
    try:
        if previewing:
            target = card or Scorecard(name=values["name"], segment=values["segment"])
            preview = _preview(target, values)
            return _render_form(form, with_blank_rows(rows), card, preview=preview)
        if card is None:
            card = service.create_scorecard(values, user=current_user, now=utcnow())
            message = f"Created the scorecard “{card.name}”."
        else:
            number = service.save_version(card, values, user=current_user, now=utcnow()).number
            message = f"Saved version {number} of “{card.name}”."
    except ValidationError as error:
        db.session.rollback()
        general = show_errors(form, rows, error)
        return _render_form(
            form, with_blank_rows(rows), card, status=422, general=general, error=error
        )
    db.session.commit()
    flash(f"{message} Scores use it from the next recompute.", "success")
    return redirect(url_for("health.scorecard", scorecard_id=card.id))


@bp.route("/scorecards/new", methods=["GET", "POST"])
def new_scorecard():
    require(can_lead(current_user))
    return _scorecard_editor(None)


@bp.route("/scorecards/<int:scorecard_id>/edit", methods=["GET", "POST"])
def edit_scorecard(scorecard_id: int):
    require(can_lead(current_user))
    return _scorecard_editor(service.get_scorecard(scorecard_id))


# --- backtest -------------------------------------------------------------------------------


def _choice(name: str, allowed: tuple[int, ...], default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and int(value) in allowed else default


def _backtest_view(version: ScorecardVersion, window: int, lead: int) -> dict[str, Any]:
    result = run_backtest(version, now=utcnow(), window_days=window, lead_days=lead)
    groups = []
    for name, label in OUTCOME_GROUPS:
        group = result.groups[name]
        counts = [group.bands.get(band, 0) for band in (*BANDS, "no_history")]
        groups.append({"name": name, "label": label, "accounts": group.accounts, "counts": counts})
    columns = [BAND_LABELS[b] for b in BANDS] + ["No history"]
    tones = [BAND_TONES[b] for b in BANDS] + ["pale"]
    return {
        "version": version,
        "result": result,
        "groups": groups,
        "columns": columns,
        "chart": {
            "categories": [g["label"] for g in groups],
            "series": [
                {"name": column, "tone": tone, "values": [g["counts"][i] for g in groups]}
                for i, (column, tone) in enumerate(zip(columns, tones, strict=True))
            ],
        },
        "outcomes": sum(g["accounts"] for g in groups if g["name"] != "retained"),
        "without_history": [signal_label(s) for s in result.signals_without_history],
    }


@bp.route("/scorecards/<int:scorecard_id>/backtest")
def backtest(scorecard_id: int):
    card = service.get_scorecard(scorecard_id)
    numbers = [v.number for v in card.versions]
    if not numbers:
        abort(404)

    def version_arg(name: str, default: int | None) -> int | None:
        value = request.args.get(name, "")
        if value == "none":
            return None
        return int(value) if value.isdigit() and int(value) in numbers else default

    first = version_arg("a", numbers[0])
    second = version_arg("b", numbers[1] if len(numbers) > 1 else None)
    window = _choice("window", BACKTEST_WINDOWS, 180)
    lead = _choice("lead", BACKTEST_LEADS, 30)
    by_number = {v.number: v for v in card.versions}
    chosen = [n for n in (first, second) if n is not None]
    views = [_backtest_view(by_number[n], window, lead) for n in dict.fromkeys(chosen)]
    return render_template(
        "health/backtest.html",
        card=card,
        views=views,
        numbers=numbers,
        first=first,
        second=second,
        window=window,
        lead=lead,
        windows=BACKTEST_WINDOWS,
        leads=BACKTEST_LEADS,
        all_accounts=ALL_ACCOUNTS_LABEL,
        segments=SEGMENTS,
    )
