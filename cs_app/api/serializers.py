"""Rows to JSON-ready dicts, in the shapes of ``cs_app.api.responses``.

Dates are ISO 8601 days, times ISO 8601 in UTC with ``Z``, money integer minor units beside
its currency. Serializers only read attributes that the queries have already loaded (see
``cs_app.api.queries``), so a page of rows costs no query per row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from cs_app.accounts.models import Account, Contact, LifecycleStageEntry
from cs_app.accounts.signal_catalog import SIGNALS
from cs_app.accounts.usage_models import AccountSignals
from cs_app.auth.models import User
from cs_app.health.models import HealthOverride, HealthSnapshot, Scorecard, ScorecardVersion
from cs_app.health.service import AccountHealth, health_json, scorecard_as_dict
from cs_app.plans import progress
from cs_app.plans.models import (
    ActionItem,
    Milestone,
    Outcome,
    Plan,
    PlanChange,
    Review,
    Risk,
    Stakeholder,
)
from cs_app.plans.service import PlanInsights

DONE = ("done",)


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def user_ref(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"user_email": user.email, "name": user.name}


def contact_ref(contact: Contact) -> dict[str, Any]:
    return {"contact_id": contact.id, "name": contact.name}


def owner_ref(item: Milestone | Risk | ActionItem) -> dict[str, Any] | None:
    if item.owner_user is not None:
        return user_ref(item.owner_user)
    if item.owner_contact is not None:
        return contact_ref(item.owner_contact)
    return None


# --- accounts -------------------------------------------------------------------------------


def account(row: Account, health: dict[str, Any] | None = None) -> dict[str, Any]:
    """``health``: from ``health_summary`` (lists) or ``health_detail`` (one account)."""
    return {
        "external_id": row.external_id,
        "name": row.name,
        "domain": row.domain,
        "industry": row.industry,
        "employees": row.employees,
        "segment": row.segment,
        "engagement_model": row.engagement_model,
        "arr": row.arr_minor,
        "currency": row.currency,
        "contract_start": day(row.contract_start),
        "renewal_date": day(row.renewal_date),
        "csm_email": row.csm.email if row.csm is not None else None,
        "csm": user_ref(row.csm),
        "lifecycle_stage": row.lifecycle_stage,
        "stage_entered_on": day(row.stage_entered_on),
        "product_plan": row.product_plan,
        "seats_purchased": row.seats_purchased,
        "business_context": {
            "primary_use_case": row.primary_use_case,
            "purchase_trigger": row.purchase_trigger,
            "previous_solutions": row.previous_solutions,
            "strategic_priorities": row.strategic_priorities,
        },
        "health": health,
        "created_at": moment(row.created_at),
        "updated_at": moment(row.updated_at),
    }


def account_detail(
    row: Account,
    *,
    health: dict[str, Any] | None,
    signals: AccountSignals | None,
    contacts: list[Contact],
    plans: list[Plan],
    stages: list[LifecycleStageEntry],
) -> dict[str, Any]:
    return {
        **account(row, health),
        "signals": signal_values(signals),
        "signals_computed_at": moment(signals.computed_at) if signals is not None else None,
        "contacts": [contact(c) for c in contacts],
        "plans": [plan_summary(p) for p in plans],
        "stages": [{"stage": s.stage, "entered_on": day(s.entered_on)} for s in stages],
    }


def contact(row: Contact) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "title": row.title,
        "email": row.email,
        "role": row.role,
        "influence": row.influence,
        "engagement": row.engagement,
        "last_contact_on": day(row.last_contact_on),
        "status": row.status,
    }


# --- health ---------------------------------------------------------------------------------


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def override(row: HealthOverride | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "band": row.band,
        "score": row.score,
        "reason": row.reason,
        "expires_at": moment(row.expires_at),
        "created_by": row.created_by.email if row.created_by is not None else None,
    }


def health_summary(
    snapshot: HealthSnapshot,
    *,
    version_number: int | None,
    scorecard_key: str | None,
    active_override: HealthOverride | None,
) -> dict[str, Any]:
    """The health object of a list item: the keys and rounding of ``health_json`` without
    what changed against earlier days, which would cost more snapshots per account."""
    return {
        "score": _rounded(snapshot.score, 1),
        "band": snapshot.band,
        "coverage": round(snapshot.coverage, 3),
        "scorecard_version": version_number,
        "scorecard": scorecard_key,
        "computed_score": _rounded(snapshot.computed_score, 1),
        "computed_band": snapshot.computed_band,
        "day": day(snapshot.day),
        "measures": [
            {
                "key": m["key"],
                "value": m.get("value"),
                "score": _rounded(m.get("score"), 1),
                "weight": m.get("weight"),
                "points_lost": _rounded(m.get("points_lost"), 2),
                "stale": bool(m.get("stale")),
                "missing": m.get("score") is None,
            }
            for m in snapshot.measures or []
        ],
        "override": override(active_override),
    }


def health_detail(health: AccountHealth) -> dict[str, Any] | None:
    """``cs_app.health.service.health_json``, with the override's expiry in the API's time
    format (``Z``) like every other time."""
    payload = health_json(health)
    if payload is not None:
        payload["override"] = override(health.override)
    return payload


def signal_values(row: AccountSignals | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {key: getattr(row, key) for key in SIGNALS}


def scorecard(row: Scorecard) -> dict[str, Any]:
    return scorecard_as_dict(row)


def scorecard_detail(row: Scorecard, version: ScorecardVersion | None = None) -> dict[str, Any]:
    return {
        **scorecard_as_dict(row, version),
        "versions": [
            {
                "number": v.number,
                "created_at": moment(v.created_at),
                "created_by": user_ref(v.created_by),
                "note": v.note,
            }
            for v in row.versions
        ],
    }


# --- plans ----------------------------------------------------------------------------------


def plan_summary(row: Plan) -> dict[str, Any]:
    return {
        "id": row.id,
        "account": {"external_id": row.account.external_id, "name": row.account.name},
        "title": row.title,
        "plan_type": row.plan_type,
        "status": row.status,
        "owner": user_ref(row.owner),
        "review_cadence": row.review_cadence,
        "last_reviewed_on": day(row.last_reviewed_on),
        "next_review_on": day(row.next_review_on),
        "template_key": row.template_key,
        "version": row.version,
        "created_at": moment(row.created_at),
        "updated_at": moment(row.updated_at),
    }


def plan(row: Plan, insights: PlanInsights, today: date) -> dict[str, Any]:
    return {
        **plan_summary(row),
        "summary": row.summary,
        "review_overdue": insights.review_overdue,
        "updated_by": user_ref(row.updated_by),
        "flags": [{"key": flag.key, "message": flag.message} for flag in insights.flags],
        **{
            name: [item(name, entry, today) for entry in getattr(row, name)]
            for name in ITEM_SERIALIZERS
        },
    }


def outcome(row: Outcome, today: date) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "title": row.title,
        "metric": row.metric,
        "unit": row.unit,
        "baseline": row.baseline,
        "target": row.target,
        "current_value": row.current_value,
        "target_date": day(row.target_date),
        "status": row.status,
        "progress": progress.outcome_progress(row.baseline, row.target, row.current_value),
        "lower_is_better": progress.lower_is_better(row.baseline, row.target),
        "measurements": [
            {"measured_on": day(m.measured_on), "value": m.value} for m in row.measurements
        ],
    }


def milestone(row: Milestone, today: date) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "phase": row.phase,
        "title": row.title,
        "target_date": day(row.target_date),
        "success_criteria": row.success_criteria,
        "status": row.status,
        "completed_on": day(row.completed_on),
        "owner": owner_ref(row),
        "overdue": progress.is_overdue(row.target_date, row.status, today, DONE),
    }


def stakeholder(row: Stakeholder, today: date) -> dict[str, Any]:
    person = row.contact
    return {
        "id": row.id,
        "version": row.version,
        "person": contact_ref(person) if person is not None else user_ref(row.user),
        "role": row.role,
        "notes": row.notes,
        "influence": person.influence if person is not None else None,
        "engagement": person.engagement if person is not None else None,
        "last_contact_on": day(person.last_contact_on) if person is not None else None,
        "contact_status": person.status if person is not None else None,
    }


def risk(row: Risk, today: date) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "title": row.title,
        "category": row.category,
        "likelihood": row.likelihood,
        "impact": row.impact,
        "severity": progress.risk_severity(row.likelihood, row.impact),
        "mitigation": row.mitigation,
        "status": row.status,
        "owner": owner_ref(row),
    }


def action(row: ActionItem, today: date) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "title": row.title,
        "due_date": day(row.due_date),
        "status": row.status,
        "milestone_id": row.milestone_id,
        "completed_on": day(row.completed_on),
        "owner": owner_ref(row),
        "overdue": progress.is_overdue(row.due_date, row.status, today, DONE),
    }


def review(row: Review, today: date) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "held_on": day(row.held_on),
        "attendees": row.attendees,
        "notes": row.notes,
        "recorded_by": user_ref(row.recorded_by),
    }


ITEM_SERIALIZERS = {
    "outcomes": outcome,
    "milestones": milestone,
    "stakeholders": stakeholder,
    "risks": risk,
    "actions": action,
    "reviews": review,
}


def item(component: str, row: Any, today: date) -> dict[str, Any]:
    return ITEM_SERIALIZERS[component](row, today)


def history_entry(change: PlanChange) -> dict[str, Any]:
    return {
        "changed_at": moment(change.changed_at),
        "user_email": change.user.email if change.user is not None else None,
        "component": change.component,
        "item_id": change.item_id,
        "item_label": change.item_label,
        "action": change.action,
        "field": change.field,
        "old_value": change.old_value,
        "new_value": change.new_value,
    }
