"""Success plans: create, change and remove plans and their components, with history.

Services take the acting user and ``now`` explicitly and only ``flush()``; the caller commits.
Values arrive already typed (dates as ``date``, numbers as ``float``) from a form or an API
schema; this module enforces the rules that make a plan trustworthy: owners are named people,
actions have due dates, nobody overwrites a change they have not seen.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from cs_app.accounts.models import Account, Contact
from cs_app.auth.models import User
from cs_app.errors import ConflictError, NotFoundError, ValidationError
from cs_app.extensions import db
from cs_app.plans import progress
from cs_app.plans.models import (
    ACTION_STATUSES,
    LEVELS,
    MILESTONE_STATUSES,
    OUTCOME_STATUSES,
    PLAN_STATUSES,
    PLAN_TYPES,
    REVIEW_CADENCES,
    RISK_CATEGORIES,
    RISK_STATUSES,
    STAKEHOLDER_ROLES,
    ActionItem,
    Milestone,
    Outcome,
    OutcomeMeasurement,
    Plan,
    PlanChange,
    PlanShareLink,
    PlanTemplate,
    Review,
    Risk,
    Stakeholder,
)
from cs_app.request_args import database_id

OWNER_REFUSAL = (
    "Pick a named person as owner: one of our users or a contact of this account "
    "(not a team or “the customer”)."
)


@dataclass(frozen=True)
class ComponentSpec:
    model: type
    label: str
    fields: tuple[str, ...]
    required: dict[str, str]
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    owned: bool = False
    title_field: str = "title"


COMPONENTS: dict[str, ComponentSpec] = {
    "outcomes": ComponentSpec(
        Outcome,
        "Outcome",
        ("title", "metric", "unit", "baseline", "target", "current_value", "target_date", "status"),
        {"title": "Name the outcome.", "metric": "Name the metric (KPI) that measures it."},
        {"status": tuple(OUTCOME_STATUSES)},
    ),
    "milestones": ComponentSpec(
        Milestone,
        "Milestone",
        ("phase", "title", "target_date", "success_criteria", "status", "completed_on"),
        {
            "title": "Name the milestone.",
            "phase": "Give the milestone a phase.",
            "target_date": "A milestone needs a target date.",
        },
        {"status": tuple(MILESTONE_STATUSES)},
        owned=True,
    ),
    "stakeholders": ComponentSpec(
        Stakeholder,
        "Stakeholder",
        ("role", "notes"),
        {"role": "Say what role this person plays."},
        {"role": tuple(STAKEHOLDER_ROLES)},
    ),
    "risks": ComponentSpec(
        Risk,
        "Risk",
        ("title", "category", "likelihood", "impact", "mitigation", "status"),
        {"title": "Describe the risk."},
        {
            "category": tuple(RISK_CATEGORIES),
            "likelihood": tuple(LEVELS),
            "impact": tuple(LEVELS),
            "status": tuple(RISK_STATUSES),
        },
        owned=True,
    ),
    "actions": ComponentSpec(
        ActionItem,
        "Action",
        ("title", "due_date", "status", "milestone_id", "completed_on"),
        {"title": "Say what needs doing.", "due_date": "An action needs a due date."},
        {"status": tuple(ACTION_STATUSES)},
        owned=True,
    ),
    "reviews": ComponentSpec(
        Review,
        "Review",
        ("held_on", "attendees", "notes"),
        {"held_on": "Give the date of the review.", "attendees": "List who attended."},
        title_field="held_on",
    ),
}

PLAN_FIELDS = (
    "title",
    "plan_type",
    "status",
    "owner_id",
    "review_cadence",
    "next_review_on",
    "summary",
)
PROFILE_FIELDS = (
    "name",
    "domain",
    "industry",
    "employees",
    "segment",
    "engagement_model",
    "contract_start",
    "renewal_date",
    "primary_use_case",
    "purchase_trigger",
    "previous_solutions",
    "strategic_priorities",
)
CONTACT_FIELDS_ON_MAP = ("influence", "engagement", "last_contact_on")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _display(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- owners ---------------------------------------------------------------------------------


def resolve_person(account: Account, ref: Any) -> tuple[User | None, Contact | None]:
    """Turn an owner reference into a user or a contact of ``account``.

    Accepts the form spelling ``"user:3"`` / ``"contact:7"`` and the API spelling
    ``{"user_email": ...}`` / ``{"contact_id": ...}`` / ``{"user_id": ...}``. Anything else,
    a bare name like "Marketing team" included, is refused.
    """
    user_id = contact_id = user_email = None
    if isinstance(ref, str) and ":" in ref:
        kind, _, raw_id = ref.partition(":")
        number = database_id(raw_id)
        if number is not None and kind in ("user", "contact"):
            user_id, contact_id = (number, None) if kind == "user" else (None, number)
    elif isinstance(ref, dict) and len(ref) == 1:
        user_id = ref.get("user_id")
        contact_id = ref.get("contact_id")
        user_email = ref.get("user_email")
    if user_email is not None and isinstance(user_email, str):
        user = db.session.scalar(select(User).where(func.lower(User.email) == user_email.lower()))
        if user is None or not user.active:
            raise ValidationError(
                OWNER_REFUSAL, {"owner": f"No active user has the email {user_email}."}
            )
        return user, None
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user = db.session.get(User, user_id)
        if user is None or not user.active:
            raise ValidationError(
                OWNER_REFUSAL, {"owner": "That user does not exist or is no longer active."}
            )
        return user, None
    if isinstance(contact_id, int) and not isinstance(contact_id, bool):
        contact = db.session.get(Contact, contact_id)
        if contact is None or contact.account_id != account.id:
            raise ValidationError(
                OWNER_REFUSAL, {"owner": "That contact is not a contact of this account."}
            )
        return None, contact
    raise ValidationError(OWNER_REFUSAL, {"owner": OWNER_REFUSAL})


# --- history --------------------------------------------------------------------------------


def _record(
    plan: Plan,
    user: User | None,
    now: datetime,
    component: str,
    action: str,
    item_id: int | None = None,
    item_label: str | None = None,
    field_name: str | None = None,
    old: Any = None,
    new: Any = None,
) -> None:
    db.session.add(
        PlanChange(
            plan_id=plan.id,
            changed_at=now,
            user_id=user.id if user else None,
            component=component,
            item_id=item_id,
            item_label=item_label,
            action=action,
            field=field_name,
            old_value=_display(old),
            new_value=_display(new),
        )
    )


def _touch(plan: Plan, user: User | None, now: datetime) -> None:
    """Mark the plan changed, which bumps its version (the API's optimistic lock)."""
    plan.updated_at = now
    plan.updated_by_id = user.id if user else None


def plan_history(plan: Plan, limit: int = 500) -> list[PlanChange]:
    return list(
        db.session.scalars(
            select(PlanChange)
            .where(PlanChange.plan_id == plan.id)
            .order_by(PlanChange.changed_at.desc(), PlanChange.id.desc())
            .limit(limit)
        )
    )


def _last_change(plan: Plan, component: str, item_id: int | None) -> PlanChange | None:
    """The change that made the caller's copy stale: for the plan as a whole any change to
    it or its components (each bumps the plan's version), else the item's own last change."""
    query = select(PlanChange).where(PlanChange.plan_id == plan.id)
    if component != "plan":
        query = query.where(PlanChange.component == component)
    if item_id is not None and component != "plan":
        query = query.where(PlanChange.item_id == item_id)
    return db.session.scalar(query.order_by(PlanChange.id.desc()).limit(1))


def _conflict(plan: Plan, component: str, item_id: int | None, what: str) -> ConflictError:
    change = _last_change(plan, component, item_id)
    who = change.user.name if change and change.user else "someone else"
    when = change.changed_at.strftime("%Y-%m-%d %H:%M UTC") if change else "meanwhile"
    return ConflictError(
        f"{who} changed this {what} at {when}, after you opened it. Your changes were not "
        f"saved; they are kept below so you can compare with the current version and save "
        f"again."
    )


# --- plans ----------------------------------------------------------------------------------


def _check_choice(field_name: str, value: Any, allowed: tuple[str, ...], errors: dict) -> None:
    if value is not None and value not in allowed:
        errors[field_name] = f"Choose one of: {', '.join(allowed)}."


def _validate_plan_values(values: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    if "title" in values and _blank(values["title"]):
        errors["title"] = "Give the plan a title."
    _check_choice("plan_type", values.get("plan_type"), tuple(PLAN_TYPES), errors)
    _check_choice("status", values.get("status"), tuple(PLAN_STATUSES), errors)
    _check_choice("review_cadence", values.get("review_cadence"), tuple(REVIEW_CADENCES), errors)
    if "owner_id" in values:
        owner = db.session.get(User, values["owner_id"]) if values["owner_id"] else None
        if owner is None or not owner.active or owner.role == "viewer":
            errors["owner_id"] = "The plan owner must be an active CSM, lead or admin."
    if errors:
        raise ValidationError("The plan has problems: " + " ".join(errors.values()), errors)


def create_plan(
    account: Account,
    values: dict[str, Any],
    *,
    user: User,
    now: datetime,
    template: PlanTemplate | None = None,
) -> Plan:
    """A new plan for ``account``; from ``template`` it arrives with its components dated
    from the contract start (or today when the account has none)."""
    values = dict(values)
    if template is not None:
        values.setdefault("plan_type", template.plan_type)
        values.setdefault("review_cadence", template.review_cadence)
        values.setdefault("title", f"{account.name} — {template.name}")
    values.setdefault("status", "draft")
    values.setdefault("review_cadence", "monthly")
    values.setdefault("owner_id", account.csm_id or user.id)
    for required, message in (
        ("title", "Give the plan a title."),
        ("plan_type", "Choose a plan type."),
    ):
        if _blank(values.get(required)):
            raise ValidationError(message, {required: message})
    _validate_plan_values(values)
    plan = Plan(
        account_id=account.id,
        account=account,
        created_at=now,
        updated_at=now,
        updated_by_id=user.id,
        template_key=template.key if template else None,
        **{k: values.get(k) for k in PLAN_FIELDS if k in values},
    )
    if plan.next_review_on is None:
        plan.next_review_on = progress.next_review_date(now.date(), plan.review_cadence)
    db.session.add(plan)
    db.session.flush()
    _record(plan, user, now, "plan", "created", plan.id, plan.title)
    if template is not None:
        _apply_template(plan, template, user=user, now=now)
    return plan


def update_plan(
    plan: Plan, values: dict[str, Any], *, expected_version: int | None, user: User, now: datetime
) -> Plan:
    if expected_version is not None and expected_version != plan.version:
        raise _conflict(plan, "plan", None, "plan")
    values = {k: v for k, v in values.items() if k in PLAN_FIELDS}
    _validate_plan_values(values)
    for name, new in values.items():
        old = getattr(plan, name)
        if old != new:
            if name == "owner_id":
                old_user = db.session.get(User, old) if old else None
                _record(
                    plan,
                    user,
                    now,
                    "plan",
                    "updated",
                    plan.id,
                    plan.title,
                    "owner",
                    old_user.name if old_user else None,
                    db.session.get(User, new).name,
                )
            else:
                _record(plan, user, now, "plan", "updated", plan.id, plan.title, name, old, new)
            setattr(plan, name, new)
    _touch(plan, user, now)
    db.session.flush()
    return plan


def update_profile(plan: Plan, values: dict[str, Any], *, user: User, now: datetime) -> Account:
    """Edit the account's profile and business context from the plan (recorded on the plan)."""
    account = plan.account
    if "name" in values and _blank(values["name"]):
        raise ValidationError("The account needs a name.", {"name": "The account needs a name."})
    for name in PROFILE_FIELDS:
        if name in values and getattr(account, name) != values[name]:
            _record(
                plan,
                user,
                now,
                "profile",
                "updated",
                account.id,
                account.name,
                name,
                getattr(account, name),
                values[name],
            )
            setattr(account, name, values[name])
    _touch(plan, user, now)
    db.session.flush()
    return account


def get_plan(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise NotFoundError(f"No plan has id {plan_id}.")
    return plan


# --- components -----------------------------------------------------------------------------


def _item_label(spec: ComponentSpec, item: Any) -> str:
    if isinstance(item, Stakeholder):
        return item.person_name
    return _display(getattr(item, spec.title_field)) or ""


def _validate_component(
    plan: Plan, spec: ComponentSpec, values: dict[str, Any], creating: bool
) -> dict[str, Any]:
    """Check ``values`` against the component's rules; returns the column values to set."""
    errors: dict[str, str] = {}
    for name, message in spec.required.items():
        if (creating or name in values) and _blank(values.get(name)):
            errors[name] = message
    for name, allowed in spec.choices.items():
        _check_choice(name, values.get(name), allowed, errors)
    columns = {k: values[k] for k in spec.fields if k in values}
    if spec.owned and (creating or "owner" in values):
        try:
            owner_user, owner_contact = resolve_person(plan.account, values.get("owner"))
            columns["owner_user_id"] = owner_user.id if owner_user else None
            columns["owner_contact_id"] = owner_contact.id if owner_contact else None
        except ValidationError as error:
            errors.update(error.fields)
    if spec.model is ActionItem and values.get("milestone_id") is not None:
        milestone = db.session.get(Milestone, values["milestone_id"])
        if milestone is None or milestone.plan_id != plan.id:
            errors["milestone_id"] = "That milestone is not part of this plan."
    if spec.model is Stakeholder and creating:
        try:
            person_user, person_contact = resolve_person(plan.account, values.get("person"))
            columns["user_id"] = person_user.id if person_user else None
            columns["contact_id"] = person_contact.id if person_contact else None
            if any(
                (s.contact_id and s.contact_id == columns["contact_id"])
                or (s.user_id and s.user_id == columns["user_id"])
                for s in plan.stakeholders
            ):
                errors["person"] = "This person is already on the stakeholder map."
        except ValidationError as error:
            errors["person"] = error.fields["owner"]
    if spec.model is Outcome:
        for name in ("baseline", "target", "current_value"):
            value = values.get(name)
            if value is not None and not isinstance(value, int | float):
                errors[name] = "Enter a number."
    if errors:
        raise ValidationError(
            f"The {spec.label.lower()} was not saved: " + " ".join(errors.values()), errors
        )
    return columns


def add_item(
    plan: Plan, component: str, values: dict[str, Any], *, user: User, now: datetime
) -> Any:
    spec = COMPONENTS[component]
    values = _with_completion_date(spec, None, values, now.date())
    columns = _validate_component(plan, spec, values, creating=True)
    item = spec.model(**columns)
    if isinstance(item, Review):
        item.recorded_by_id = user.id
    _apply_side_effects(plan, item, values, user=user, now=now)
    getattr(plan, component).append(item)  # keeps the loaded collection current
    db.session.flush()
    _record(plan, user, now, component, "created", item.id, _item_label(spec, item))
    if isinstance(item, Outcome) and item.current_value is not None:
        db.session.add(
            OutcomeMeasurement(outcome_id=item.id, measured_on=now.date(), value=item.current_value)
        )
    _touch(plan, user, now)
    db.session.flush()
    return item


def get_item(plan: Plan, component: str, item_id: int) -> Any:
    spec = COMPONENTS.get(component)
    if spec is None:
        raise NotFoundError(f"Plans have no component {component!r}.")
    item = db.session.get(spec.model, item_id)
    if item is None or item.plan_id != plan.id:
        raise NotFoundError(f"This plan has no {spec.label.lower()} with id {item_id}.")
    return item


def update_item(
    plan: Plan,
    component: str,
    item: Any,
    values: dict[str, Any],
    *,
    expected_version: int | None,
    user: User,
    now: datetime,
) -> Any:
    spec = COMPONENTS[component]
    if expected_version is not None and expected_version != item.version:
        raise _conflict(plan, component, item.id, spec.label.lower())
    values = _with_completion_date(spec, item, values, now.date())
    columns = _validate_component(plan, spec, values, creating=False)
    label = _item_label(spec, item)
    old_owner = item.owner_name if spec.owned else None
    _apply_side_effects(plan, item, values, user=user, now=now)
    changed_owner = False
    for name, new in columns.items():
        old = getattr(item, name)
        if old == new:
            continue
        if name in ("owner_user_id", "owner_contact_id"):
            changed_owner = True
        else:
            _record(plan, user, now, component, "updated", item.id, label, name, old, new)
        setattr(item, name, new)
    if (
        isinstance(item, Outcome)
        and "current_value" in columns
        and columns["current_value"] is not None
    ):
        _record_measurement(item, now.date(), columns["current_value"])
    db.session.flush()
    if changed_owner:
        db.session.refresh(item)
        _record(
            plan,
            user,
            now,
            component,
            "updated",
            item.id,
            label,
            "owner",
            old_owner,
            item.owner_name,
        )
    _touch(plan, user, now)
    db.session.flush()
    return item


def delete_item(plan: Plan, component: str, item: Any, *, user: User, now: datetime) -> None:
    spec = COMPONENTS[component]
    _record(plan, user, now, component, "deleted", item.id, _item_label(spec, item))
    getattr(plan, component).remove(item)  # delete-orphan removes the row
    _touch(plan, user, now)
    db.session.flush()
    if isinstance(item, Review):
        _recompute_review_dates(plan)


def _with_completion_date(
    spec: ComponentSpec, item: Any, values: dict[str, Any], today: date
) -> dict[str, Any]:
    """Milestones and actions marked done get today's date unless one is given; moving them
    out of done clears it."""
    if spec.model not in (Milestone, ActionItem):
        return values
    values = dict(values)
    status = values.get("status", item.status if item is not None else None)
    if status == "done":
        if not values.get("completed_on"):
            values["completed_on"] = (
                item.completed_on if item is not None and item.completed_on else today
            )
    elif "status" in values:
        values["completed_on"] = None
    return values


def _apply_side_effects(
    plan: Plan, item: Any, values: dict[str, Any], *, user: User, now: datetime
) -> None:
    """Rules that reach beyond the row itself: review dates and stakeholder contacts."""
    if isinstance(item, Review):
        held_on = values.get("held_on") or item.held_on
        if held_on and (plan.last_reviewed_on is None or held_on >= plan.last_reviewed_on):
            next_review = progress.next_review_date(held_on, plan.review_cadence)
            _record(
                plan,
                user,
                now,
                "plan",
                "updated",
                plan.id,
                plan.title,
                "next_review_on",
                plan.next_review_on,
                next_review,
            )
            plan.last_reviewed_on = held_on
            plan.next_review_on = next_review
    if isinstance(item, Stakeholder):
        contact = item.contact or (
            db.session.get(Contact, values["person"].get("contact_id"))
            if isinstance(values.get("person"), dict) and values["person"].get("contact_id")
            else None
        )
        if (
            contact is None
            and isinstance(values.get("person"), str)
            and values["person"].startswith("contact:")
        ):
            contact = db.session.get(Contact, int(values["person"].split(":")[1]))
        if contact is not None and contact.account_id == plan.account_id:
            for name in CONTACT_FIELDS_ON_MAP:
                if (
                    name in values
                    and values[name] is not None
                    and getattr(contact, name) != values[name]
                ):
                    _record(
                        plan,
                        user,
                        now,
                        "stakeholders",
                        "updated",
                        item.id,
                        contact.name,
                        name,
                        getattr(contact, name),
                        values[name],
                    )
                    setattr(contact, name, values[name])


def _recompute_review_dates(plan: Plan) -> None:
    latest = db.session.scalar(select(func.max(Review.held_on)).where(Review.plan_id == plan.id))
    plan.last_reviewed_on = latest
    if latest is not None:
        plan.next_review_on = progress.next_review_date(latest, plan.review_cadence)
    db.session.flush()


def _record_measurement(outcome: Outcome, day: date, value: float) -> None:
    existing = db.session.scalar(
        select(OutcomeMeasurement).where(
            OutcomeMeasurement.outcome_id == outcome.id, OutcomeMeasurement.measured_on == day
        )
    )
    if existing is not None:
        existing.value = value
    else:
        db.session.add(OutcomeMeasurement(outcome_id=outcome.id, measured_on=day, value=value))


def add_measurement(
    plan: Plan, outcome: Outcome, measured_on: date, value: float, *, user: User, now: datetime
) -> Outcome:
    """Record a measurement; the latest one becomes the outcome's current value."""
    if measured_on is None or value is None:
        raise ValidationError(
            "A measurement needs a date and a value.",
            {"measured_on": "Give the date.", "value": "Give the value."},
        )
    _record_measurement(outcome, measured_on, value)
    db.session.flush()
    latest = db.session.scalar(
        select(OutcomeMeasurement)
        .where(OutcomeMeasurement.outcome_id == outcome.id)
        .order_by(OutcomeMeasurement.measured_on.desc())
        .limit(1)
    )
    if latest is not None and outcome.current_value != latest.value:
        _record(
            plan,
            user,
            now,
            "outcomes",
            "updated",
            outcome.id,
            outcome.title,
            "current_value",
            outcome.current_value,
            latest.value,
        )
        outcome.current_value = latest.value
    _touch(plan, user, now)
    db.session.flush()
    return outcome


# --- templates ------------------------------------------------------------------------------


def _template_date(anchor: date, offset_days: Any) -> date | None:
    if offset_days is None:
        return None
    return anchor + timedelta(days=int(offset_days))


def _apply_template(plan: Plan, template: PlanTemplate, *, user: User, now: datetime) -> None:
    """Create the template's rows on ``plan``; owners default to the plan owner, whom the CSM
    then replaces with the right named person."""
    anchor = plan.account.contract_start or now.date()
    owner = f"user:{plan.owner_id}"
    content = template.content or {}
    for row in content.get("outcomes", []):
        add_item(
            plan,
            "outcomes",
            {
                "title": row["title"],
                "metric": row.get("metric") or row["title"],
                "unit": row.get("unit"),
                "baseline": row.get("baseline"),
                "target": row.get("target"),
                "current_value": row.get("baseline"),
                "target_date": _template_date(anchor, row.get("target_offset_days")),
                "status": "on_track",
            },
            user=user,
            now=now,
        )
    milestones_by_title: dict[str, Milestone] = {}
    for row in content.get("milestones", []):
        milestone = add_item(
            plan,
            "milestones",
            {
                "phase": row["phase"],
                "title": row["title"],
                "target_date": _template_date(anchor, row.get("target_offset_days")),
                "success_criteria": row.get("success_criteria"),
                "status": "planned",
                "owner": owner,
            },
            user=user,
            now=now,
        )
        milestones_by_title[row["title"]] = milestone
    for row in content.get("risks", []):
        add_item(
            plan,
            "risks",
            {
                "title": row["title"],
                "category": row.get("category", "other"),
                "likelihood": row.get("likelihood", "medium"),
                "impact": row.get("impact", "medium"),
                "mitigation": row.get("mitigation"),
                "status": "open",
                "owner": owner,
            },
            user=user,
            now=now,
        )
    for row in content.get("actions", []):
        milestone = milestones_by_title.get(row.get("milestone", ""))
        add_item(
            plan,
            "actions",
            {
                "title": row["title"],
                "due_date": _template_date(anchor, row.get("due_offset_days", 14)),
                "status": "open",
                "owner": owner,
                "milestone_id": milestone.id if milestone else None,
            },
            user=user,
            now=now,
        )
    for contact in plan.account.contacts:
        if contact.status == "active" and contact.role in STAKEHOLDER_ROLES:
            add_item(
                plan,
                "stakeholders",
                {"person": f"contact:{contact.id}", "role": contact.role},
                user=user,
                now=now,
            )
    add_item(plan, "stakeholders", {"person": owner, "role": "csm"}, user=user, now=now)


def get_template(key: str) -> PlanTemplate:
    template = db.session.scalar(select(PlanTemplate).where(PlanTemplate.key == key))
    if template is None:
        raise NotFoundError(
            f"No plan template has the key {key!r}.", {"template": f"Unknown template {key!r}."}
        )
    return template


# --- sharing --------------------------------------------------------------------------------


def create_share_link(plan: Plan, *, user: User, now: datetime) -> str:
    """A new unguessable read-only link; earlier links keep working until revoked."""
    if plan.plan_type != "joint":
        raise ValidationError(
            "Only joint plans are shared with the customer.",
            {"plan_type": "Only joint plans can be shared."},
        )
    token = secrets.token_urlsafe(32)
    db.session.add(
        PlanShareLink(
            plan_id=plan.id, token_hash=_hash_token(token), created_at=now, created_by_id=user.id
        )
    )
    _record(plan, user, now, "plan", "shared", plan.id, plan.title)
    db.session.flush()
    return token


def active_share_links(plan: Plan) -> list[PlanShareLink]:
    return list(
        db.session.scalars(
            select(PlanShareLink)
            .where(PlanShareLink.plan_id == plan.id, PlanShareLink.revoked_at.is_(None))
            .order_by(PlanShareLink.created_at)
        )
    )


def revoke_share_links(plan: Plan, *, user: User, now: datetime) -> int:
    links = active_share_links(plan)
    for link in links:
        link.revoked_at = now
    if links:
        _record(plan, user, now, "plan", "unshared", plan.id, plan.title)
    db.session.flush()
    return len(links)


def plan_for_share_token(token: str, *, now: datetime) -> Plan | None:
    link = db.session.scalar(
        select(PlanShareLink).where(
            PlanShareLink.token_hash == _hash_token(token), PlanShareLink.revoked_at.is_(None)
        )
    )
    if link is None:
        return None
    link.last_viewed_at = now
    return db.session.get(Plan, link.plan_id)


# --- derived facts --------------------------------------------------------------------------


@dataclass
class PlanInsights:
    """What the plan page, the export and the API show beyond stored values."""

    flags: list[progress.PlanFlag]
    overdue_action_ids: set[int]
    overdue_milestone_ids: set[int]
    risk_severity: dict[int, str]
    outcome_progress: dict[int, float | None]
    review_overdue: bool


def plan_insights(plan: Plan, *, today: date, dark_after_days: int) -> PlanInsights:
    overdue_actions = {
        a.id for a in plan.actions if progress.is_overdue(a.due_date, a.status, today, ("done",))
    }
    overdue_milestones = {
        m.id
        for m in plan.milestones
        if progress.is_overdue(m.target_date, m.status, today, ("done",))
    }
    severities = {r.id: progress.risk_severity(r.likelihood, r.impact) for r in plan.risks}
    outcome_share = {
        o.id: progress.outcome_progress(o.baseline, o.target, o.current_value)
        for o in plan.outcomes
    }
    people = [
        progress.StakeholderFacts(
            name=s.person_name,
            is_customer=s.contact is not None,
            engagement=s.contact.engagement if s.contact else None,
            last_contact=s.contact.last_contact_on if s.contact else None,
            departed=bool(s.contact and s.contact.status == "departed"),
        )
        for s in plan.stakeholders
    ]
    flags = []
    overdue_review = progress.review_overdue(plan.next_review_on, plan.status, today)
    if overdue_review:
        days = (today - plan.next_review_on).days
        flags.append(
            progress.PlanFlag(
                "review_overdue",
                f"Review overdue by {days} days (due {plan.next_review_on.isoformat()}).",
            )
        )
    if overdue_actions:
        flags.append(
            progress.PlanFlag("overdue_actions", f"{len(overdue_actions)} action(s) past due.")
        )
    if overdue_milestones:
        flags.append(
            progress.PlanFlag(
                "overdue_milestones", f"{len(overdue_milestones)} milestone(s) past target."
            )
        )
    open_severe = [
        r
        for r in plan.risks
        if r.status in ("open", "mitigating") and severities[r.id] in ("high", "critical")
    ]
    if open_severe:
        flags.append(
            progress.PlanFlag("severe_risks", f"{len(open_severe)} open high-severity risk(s).")
        )
    flags.extend(progress.stakeholder_flags(people, today, dark_after_days))
    return PlanInsights(
        flags, overdue_actions, overdue_milestones, severities, outcome_share, overdue_review
    )
