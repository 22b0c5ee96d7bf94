"""Create and change accounts, their lifecycle stage and their contacts.

Services take the acting user and ``now`` explicitly and only ``flush()``; the caller (a page,
the API, an import) commits once. Values arrive typed (dates as ``date``, money as integer
minor units); this module enforces the rules: known segments and stages, money that is not
negative, a renewal after the contract start, contacts with a name and a well-formed email,
both one line (they go into email headers).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select

from cs_app.accounts.models import (
    CONTACT_ROLES,
    CONTACT_STATUSES,
    ENGAGEMENT_LEVELS,
    ENGAGEMENT_MODELS,
    INFLUENCE_LEVELS,
    LIFECYCLE_STAGES,
    SEGMENTS,
    Account,
    Contact,
    LifecycleStageEntry,
)
from cs_app.auth.models import User
from cs_app.errors import NotFoundError, PermissionDenied, ValidationError
from cs_app.extensions import db
from cs_app.header_text import breaks_header, one_line_refusal
from cs_app.jobs.pending import queue_recompute
from cs_app.sql import chunks

ACCOUNT_FIELDS = (
    "name",
    "domain",
    "industry",
    "employees",
    "segment",
    "engagement_model",
    "arr_minor",
    "currency",
    "contract_start",
    "renewal_date",
    "csm_id",
    "lifecycle_stage",
    "product_plan",
    "seats_purchased",
    "primary_use_case",
    "purchase_trigger",
    "previous_solutions",
    "strategic_priorities",
    "trial_ends_on",
)
CONTACT_FIELDS = (
    "name",
    "title",
    "email",
    "role",
    "influence",
    "engagement",
    "last_contact_on",
    "status",
)
TEXT_LIMITS = {
    "external_id": 100,
    "name": 200,
    "domain": 200,
    "industry": 100,
    "product_plan": 100,
    "title": 200,
    "email": 255,
}
CSM_ROLES = ("csm", "lead", "admin")
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CURRENCY_SHAPE = re.compile(r"^[A-Z]{3}$")


def _clean(value: Any) -> Any:
    """Strip text; blank text means "no value"."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(errors: dict[str, str], name: str, value: Any, allowed, what: str) -> None:
    if value is not None and value not in allowed:
        errors[name] = f"Choose a {what}: {', '.join(allowed)}."


def _refuse(what: str, errors: dict[str, str]) -> ValidationError:
    return ValidationError(f"The {what} was not saved: " + " ".join(errors.values()), errors)


# --- accounts -------------------------------------------------------------------------------


def get_account(external_id: str) -> Account:
    account = db.session.scalar(select(Account).where(Account.external_id == external_id))
    if account is None:
        raise NotFoundError(f"No account has the external ID {external_id!r}.")
    return account


def _resolve_csm(values: dict[str, Any], current: Account | None, errors: dict[str, str]) -> None:
    """Accept ``csm_email`` (integrations) as well as ``csm_id`` (forms); check a new owner
    (an unchanged one may since have left, which must not block other edits)."""
    if "csm_email" in values:
        email = _clean(values.pop("csm_email"))
        if email is None:
            values["csm_id"] = None
            return
        user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
        if user is None:
            errors["csm_id"] = f"No user has the email {email}."
            return
        values["csm_id"] = user.id
    if values.get("csm_id") is None:
        return
    if current is not None and values["csm_id"] == current.csm_id:
        return
    user = db.session.get(User, values["csm_id"]) if _is_int(values["csm_id"]) else None
    if user is None or not user.active or user.role not in CSM_ROLES:
        errors["csm_id"] = (
            "The CSM owner must be an active CSM, lead or admin (or nobody, for a pooled account)."
        )


def _changes_csm(account: Account, values: dict[str, Any]) -> bool:
    """Whether ``values`` name another CSM owner than the account's: by ``csm_email``
    (integrations, any case) or ``csm_id`` (forms); nobody counts as an owner too."""
    if "csm_email" in values:
        new = (values["csm_email"] or "").strip().lower() or None
        return new != (account.csm.email.lower() if account.csm is not None else None)
    return "csm_id" in values and values["csm_id"] != account.csm_id


def require_may_reassign(user: User | None, account: Account, values: dict[str, Any]) -> None:
    """Only leads and admins move an account to another CSM (or to the pool), whichever way
    the change comes in; a CSM may edit everything else of the accounts they own. ``user``
    None is the system (imports, the demo), which may."""
    if user is not None and not user.can_edit_everything and _changes_csm(account, values):
        raise PermissionDenied("Only leads and admins reassign an account to another CSM.")


def _validate_account(values: dict[str, Any], current: Account | None, today: date) -> None:
    """Check ``values`` (already cleaned) as they would apply to ``current``."""
    errors: dict[str, str] = {}

    def final(name: str) -> Any:
        if name in values:
            return values[name]
        return getattr(current, name) if current is not None else None

    if final("name") is None:
        errors["name"] = "Give the account a name."
    for name, limit in TEXT_LIMITS.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            errors[name] = f"Use at most {limit} characters."
    _choice(errors, "segment", values.get("segment"), SEGMENTS, "segment")
    _choice(
        errors,
        "engagement_model",
        values.get("engagement_model"),
        ENGAGEMENT_MODELS,
        "engagement model",
    )
    _choice(
        errors,
        "lifecycle_stage",
        values.get("lifecycle_stage"),
        LIFECYCLE_STAGES,
        "lifecycle stage",
    )
    arr = values.get("arr_minor")
    if arr is not None and (not _is_int(arr) or arr < 0):
        errors["arr_minor"] = "ARR must be a whole amount of zero or more."
    for name, label in (("employees", "Employees"), ("seats_purchased", "Seats purchased")):
        number = values.get(name)
        if number is not None and (not _is_int(number) or number < 0):
            errors[name] = f"{label} must be a whole number of zero or more."
    currency = values.get("currency")
    if currency is not None and not (isinstance(currency, str) and CURRENCY_SHAPE.match(currency)):
        errors["currency"] = "Use a three-letter ISO currency code such as USD or EUR."
    for name in ("contract_start", "renewal_date", "stage_entered_on", "trial_ends_on"):
        if values.get(name) is not None and not isinstance(values[name], date):
            errors[name] = "Enter a date as YYYY-MM-DD."
    entered_on = values.get("stage_entered_on")
    if isinstance(entered_on, date) and entered_on > today:
        errors["stage_entered_on"] = "The stage cannot be entered in the future."
    start, renewal = final("contract_start"), final("renewal_date")
    if (
        isinstance(start, date)
        and isinstance(renewal, date)
        and renewal <= start
        and "contract_start" not in errors
        and "renewal_date" not in errors
    ):
        errors["renewal_date"] = (
            f"The renewal date must be after the contract start ({start.isoformat()})."
        )
    _resolve_csm(values, current, errors)
    if errors:
        raise _refuse("account", errors)


def _prepare(values: dict[str, Any]) -> dict[str, Any]:
    prepared = {k: _clean(v) for k, v in values.items()}
    if isinstance(prepared.get("currency"), str):
        prepared["currency"] = prepared["currency"].upper()
    return prepared


def upsert_account(
    values: dict[str, Any], *, now: datetime, user: User | None = None
) -> tuple[Account, bool]:
    """Create the account named by ``values["external_id"]`` or update it with the values
    given (missing keys keep their current value). Returns ``(account, created)``."""
    values = _prepare(values)
    external_id = values.pop("external_id", None)
    if external_id is None:
        message = "Give the account's external ID (the key your other systems use)."
        raise _refuse("account", {"external_id": message})
    current = db.session.scalar(select(Account).where(Account.external_id == external_id))
    if current is not None:
        return update_account(current, values, user=user, now=now), False
    values["external_id"] = external_id
    _validate_account(values, None, now.date())
    values.pop("external_id")
    stage = values.pop("lifecycle_stage", None) or "onboarding"
    entered_on = values.pop("stage_entered_on", None)
    account = Account(
        external_id=external_id,
        created_at=now,
        updated_at=now,
        **{k: v for k, v in values.items() if k in ACCOUNT_FIELDS and v is not None},
    )
    db.session.add(account)
    db.session.flush()
    _enter_stage(account, stage, entered_on or now.date())
    db.session.flush()
    queue_recompute([account.id], now=now)
    return account, True


def create_accounts(
    rows: list[dict[str, Any]], *, now: datetime, user: User | None = None
) -> list[ValidationError | None]:
    """Create many new accounts in a few statements (CSV imports): each row is checked as
    :func:`upsert_account` checks a new account; a refused row gets its ValidationError in the
    answer (same position), the others are inserted with their first lifecycle stage. Every
    ``external_id`` must be new and appear once (the caller checked)."""
    answers: list[ValidationError | None] = []
    accepted: list[dict[str, Any]] = []
    today = now.date()
    for values in rows:
        values = _prepare(values)
        try:
            if values.get("external_id") is None:
                message = "Give the account's external ID (the key your other systems use)."
                raise _refuse("account", {"external_id": message})
            _validate_account(values, None, today)
        except ValidationError as error:
            answers.append(error)
            continue
        answers.append(None)
        stage = values.pop("lifecycle_stage", None) or "onboarding"
        entered_on = values.pop("stage_entered_on", None) or today
        row = {k: v for k, v in values.items() if k in ACCOUNT_FIELDS and v is not None}
        accepted.append(
            {
                **row,
                "external_id": values["external_id"],
                "lifecycle_stage": stage,
                "stage_entered_on": entered_on,
                "created_at": now,
                "updated_at": now,
            }
        )
    for chunk in chunks(accepted):
        ids = (
            db.session.execute(
                insert(Account).returning(Account.id, sort_by_parameter_order=True), chunk
            )
            .scalars()
            .all()
        )
        db.session.execute(
            insert(LifecycleStageEntry),
            [
                {
                    "account_id": account_id,
                    "stage": row["lifecycle_stage"],
                    "entered_on": row["stage_entered_on"],
                }
                for account_id, row in zip(ids, chunk, strict=True)
            ],
        )
        queue_recompute(ids, now=now)
    return answers


def update_account(
    account: Account,
    values: dict[str, Any],
    *,
    user: User | None,
    now: datetime,
    flush: bool = True,
) -> Account:
    """Change the fields given in ``values``; a new lifecycle stage is recorded in the
    account's stage history. ``flush=False`` lets a bulk caller (an import) flush many
    updates at once."""
    values = _prepare(values)
    values.pop("external_id", None)
    require_may_reassign(user, account, values)
    _validate_account(values, account, now.date())
    stage = values.pop("lifecycle_stage", None)
    entered_on = values.pop("stage_entered_on", None)
    for name in ACCOUNT_FIELDS:
        if name in values and getattr(account, name) != values[name]:
            if (
                name in ("segment", "engagement_model", "currency", "arr_minor")
                and values[name] is None
            ):
                continue  # required columns: "no value" keeps the current one
            setattr(account, name, values[name])
    if stage is not None and stage != account.lifecycle_stage:
        _enter_stage(account, stage, entered_on or now.date())
    account.updated_at = now
    if account.id is not None:  # renewal, segment, stage and trial dates are signals too
        queue_recompute([account.id], now=now)
    if flush:
        db.session.flush()
    return account


def set_lifecycle_stage(
    account: Account,
    stage: str,
    *,
    user: User | None,
    now: datetime,
    entered_on: date | None = None,
) -> Account:
    """Move the account to ``stage`` (no change when it is already there)."""
    return update_account(
        account, {"lifecycle_stage": stage, "stage_entered_on": entered_on}, user=user, now=now
    )


def _enter_stage(account: Account, stage: str, entered_on: date) -> None:
    account.lifecycle_stage = stage
    account.stage_entered_on = entered_on
    db.session.add(LifecycleStageEntry(account_id=account.id, stage=stage, entered_on=entered_on))


def stage_history(account: Account) -> list[LifecycleStageEntry]:
    return list(
        db.session.scalars(
            select(LifecycleStageEntry)
            .where(LifecycleStageEntry.account_id == account.id)
            .order_by(LifecycleStageEntry.entered_on, LifecycleStageEntry.id)
        )
    )


# --- contacts -------------------------------------------------------------------------------


def _validate_contact(
    account: Account, values: dict[str, Any], current: Contact | None, today: date
) -> None:
    errors: dict[str, str] = {}
    if (current is None or "name" in values) and values.get("name") is None:
        errors["name"] = "Give the contact's name."
    for name in ("name", "title", "email"):
        value = values.get(name)
        if isinstance(value, str) and len(value) > TEXT_LIMITS[name]:
            errors[name] = f"Use at most {TEXT_LIMITS[name]} characters."
    for name, label in (("name", "name"), ("email", "email address")):
        value = values.get(name)  # both go into email headers, where a line break is a header
        if name not in errors and isinstance(value, str) and breaks_header(value):
            errors[name] = one_line_refusal(label)
    email = values.get("email")
    if email is not None and "email" not in errors:
        if not (isinstance(email, str) and EMAIL_SHAPE.fullmatch(email)):
            errors["email"] = "Enter an email address like name@example.com."
        else:
            query = select(Contact.id).where(
                Contact.account_id == account.id, func.lower(Contact.email) == email.lower()
            )
            if current is not None:
                query = query.where(Contact.id != current.id)
            if db.session.scalar(query.limit(1)) is not None:
                errors["email"] = f"This account already has a contact with the email {email}."
    _choice(errors, "role", values.get("role"), tuple(CONTACT_ROLES), "role")
    _choice(errors, "influence", values.get("influence"), tuple(INFLUENCE_LEVELS), "influence")
    _choice(errors, "engagement", values.get("engagement"), tuple(ENGAGEMENT_LEVELS), "engagement")
    _choice(errors, "status", values.get("status"), tuple(CONTACT_STATUSES), "status")
    last_contact = values.get("last_contact_on")
    if last_contact is not None:
        if not isinstance(last_contact, date):
            errors["last_contact_on"] = "Enter a date as YYYY-MM-DD."
        elif last_contact > today:
            errors["last_contact_on"] = "The last contact cannot be in the future."
    if errors:
        raise _refuse("contact", errors)


def get_contact(account: Account, contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.account_id != account.id:
        raise NotFoundError(f"This account has no contact with id {contact_id}.")
    return contact


def add_contact(
    account: Account, values: dict[str, Any], *, user: User | None, now: datetime
) -> Contact:
    values = {k: _clean(v) for k, v in values.items() if k in CONTACT_FIELDS}
    _validate_contact(account, values, None, now.date())
    contact = Contact(
        account_id=account.id, account=account, **{k: v for k, v in values.items() if v is not None}
    )
    db.session.add(contact)
    db.session.flush()
    return contact


def update_contact(
    contact: Contact, values: dict[str, Any], *, user: User | None, now: datetime
) -> Contact:
    values = {k: _clean(v) for k, v in values.items() if k in CONTACT_FIELDS}
    _validate_contact(contact.account, values, contact, now.date())
    for name, value in values.items():
        if value is None and name in ("role", "influence", "engagement", "status"):
            continue  # required columns: "no value" keeps the current one
        setattr(contact, name, value)
    db.session.flush()
    return contact


# --- plans from the account page -----------------------------------------------------------


def create_plan_for_account(
    account: Account, template_key: str | None, values: dict[str, Any], *, user: User, now: datetime
):
    """A new success plan from a template (or blank), with every missing field named at once.

    ``template_key`` ``None`` or ``"blank"`` means a blank plan, which needs a title and a type.
    """
    from cs_app.plans import service as plan_service

    values = {k: v for k, v in ((k, _clean(v)) for k, v in values.items()) if v is not None}
    template = None
    errors: dict[str, str] = {}
    if template_key not in (None, "", "blank"):
        try:
            template = plan_service.get_template(template_key)
        except NotFoundError:
            errors["template"] = "Choose one of the listed templates, or a blank plan."
    else:
        if "title" not in values:
            errors["title"] = "Give the plan a title (or choose a template)."
        if "plan_type" not in values:
            errors["plan_type"] = "Choose a plan type for a blank plan."
    if errors:
        raise _refuse("plan", errors)
    return plan_service.create_plan(account, values, user=user, now=now, template=template)
