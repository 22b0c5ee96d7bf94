"""Touchpoint templates: create, change (with the version read, so two leads never silently
overwrite each other), list, and preview against a real account.

Subject and body are Jinja for ``touchpoints.sandbox``: a template is saved only when it
parses and renders in the sandbox against sample data, so a syntax error, an unknown field or
an attempt to reach Python internals is refused with the line it is on. Every change is in the
audit log. A template's channel cannot change while a rule sends it on the old channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from cs_app.accounts.models import Account
from cs_app.audit import service as audit
from cs_app.auth.models import User
from cs_app.errors import ConflictError, NotFoundError, ValidationError
from cs_app.extensions import db
from cs_app.request_args import database_id
from cs_app.triggers.rules.models import Rule
from cs_app.triggers.touchpoints import sandbox
from cs_app.triggers.touchpoints.models import CHANNELS, Touchpoint, TouchpointTemplate
from cs_app.triggers.touchpoints.service import account_context

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
MAX_NAME = 200
FIELDS = ("key", "name", "channel", "subject", "body")
PREVIEW_ACCOUNTS = 300


def get_template(template_id: int) -> TouchpointTemplate:
    template = db.session.get(TouchpointTemplate, template_id)
    if template is None:
        raise NotFoundError(f"No touchpoint template {template_id}.")
    return template


def as_dict(template: TouchpointTemplate) -> dict[str, Any]:
    return {name: getattr(template, name) for name in FIELDS}


def rules_sending(key: str) -> list[tuple[str, str]]:
    """(rule name, channel) for every rule action that schedules template ``key``."""
    found = []
    for name, actions in db.session.execute(select(Rule.name, Rule.actions).order_by(Rule.name)):
        for action in actions or []:
            if action.get("type") == "schedule_touchpoint" and action.get("template") == key:
                found.append((name, action.get("channel")))
    return found


def _clean(data: dict[str, Any], template: TouchpointTemplate | None) -> dict[str, Any]:
    problems: dict[str, str] = {}
    clean = {
        name: (data.get(name) or "").strip()
        if name in ("key", "name", "channel")
        else (data.get(name) or "")
        for name in FIELDS
    }
    if template is None:
        if not clean["key"]:
            problems["key"] = "Give the template a key, e.g. renewal-reminder."
        elif not KEY_PATTERN.match(clean["key"]):
            problems["key"] = (
                "Use lowercase letters, digits, hyphens and underscores (at most "
                "80), starting with a letter or digit."
            )
        elif db.session.scalar(
            select(TouchpointTemplate.id).where(TouchpointTemplate.key == clean["key"])
        ):
            problems["key"] = f"Another template already has the key {clean['key']!r}."
    else:
        clean["key"] = template.key
    if not clean["name"]:
        problems["name"] = "Give the template a name."
    elif len(clean["name"]) > MAX_NAME:
        problems["name"] = f"The name is at most {MAX_NAME} characters."
    if clean["channel"] not in CHANNELS:
        problems["channel"] = "Choose a channel: " + ", ".join(CHANNELS.values()) + "."
    elif template is not None and clean["channel"] != template.channel:
        senders = [
            name for name, channel in rules_sending(template.key) if channel != clean["channel"]
        ]
        if senders:
            problems["channel"] = (
                f"Rules send this template as {CHANNELS[template.channel]}: "
                f"{', '.join(senders)}. Change those rules first."
            )
    problems.update(sandbox.validate_template(clean["subject"], clean["body"]))
    if problems:
        raise ValidationError(
            "The template was not saved: "
            + "; ".join(problem.rstrip(".") for problem in problems.values())
            + ".",
            problems,
        )
    return clean


def create_template(data: dict[str, Any], *, user, now: datetime) -> TouchpointTemplate:
    clean = _clean(data, None)
    template = TouchpointTemplate(**clean, updated_at=now, updated_by_id=user.id if user else None)
    db.session.add(template)
    db.session.flush()
    audit.record(
        "touchpoint_template", template.id, "created", user=user, now=now, after=as_dict(template)
    )
    return template


def update_template(
    template: TouchpointTemplate, data: dict[str, Any], *, user, now: datetime, version: int | None
) -> TouchpointTemplate:
    """Change the template; ``version`` is the one the editor read (None skips the check)."""
    if version is not None and version != template.version:
        raise ConflictError(
            "Someone saved this template since you opened it; nothing was saved. Your text "
            "is still in the form: compare it with the current template (open it in another "
            "tab), then save again.",
            {
                "version": f"You edited version {version}; the template is at version "
                f"{template.version}."
            },
        )
    clean = _clean(data, template)
    before = as_dict(template)
    if clean == before:
        return template
    for name, value in clean.items():
        setattr(template, name, value)
    template.updated_at, template.updated_by_id = now, user.id if user else None
    try:
        db.session.flush()
    except StaleDataError as error:
        db.session.rollback()
        raise ConflictError(
            "Someone saved this template at the same moment; nothing was "
            "saved. Reload it and apply your change again."
        ) from error
    audit.record(
        "touchpoint_template",
        template.id,
        "updated",
        user=user,
        now=now,
        before=before,
        after=as_dict(template),
    )
    return template


@dataclass
class TemplateSummary:
    template: TouchpointTemplate
    updated_by: str | None
    scheduled: int
    sent: int
    attention: int  # failed or dead


def list_templates() -> list[TemplateSummary]:
    """Every template with its touchpoint counts: three queries."""
    templates = list(
        db.session.scalars(select(TouchpointTemplate).order_by(TouchpointTemplate.name))
    )
    names = dict(
        db.session.execute(
            select(User.id, User.name).where(
                User.id.in_({t.updated_by_id for t in templates if t.updated_by_id} or {-1})
            )
        ).all()
    )
    counts: dict[tuple[int, str], int] = {
        (template_id, status): count
        for template_id, status, count in db.session.execute(
            select(Touchpoint.template_id, Touchpoint.status, func.count(Touchpoint.id))
            .where(Touchpoint.template_id.is_not(None))
            .group_by(Touchpoint.template_id, Touchpoint.status)
        )
    }
    return [
        TemplateSummary(
            template=t,
            updated_by=names.get(t.updated_by_id),
            scheduled=counts.get((t.id, "scheduled"), 0),
            sent=counts.get((t.id, "sent"), 0),
            attention=counts.get((t.id, "failed"), 0) + counts.get((t.id, "dead"), 0),
        )
        for t in templates
    ]


def preview_accounts(limit: int = PREVIEW_ACCOUNTS) -> tuple[list[tuple[int, str, str]], int]:
    """The first ``limit`` accounts by name as (id, name, external ID) to preview a template
    with, and how many accounts there are in all."""
    accounts = db.session.execute(
        select(Account.id, Account.name, Account.external_id)
        .order_by(Account.name, Account.external_id)
        .limit(limit)
    ).all()
    total = db.session.scalar(select(func.count(Account.id))) or 0
    return [tuple(row) for row in accounts], int(total)


def preview_account(
    external_id: str, account_id: str, default_id: int | None
) -> tuple[Account | None, str | None]:
    """The account to preview with and, when there is none, why: a typed external ID wins
    over the account chosen from the list, which is ``default_id`` until one is chosen."""
    external_id = external_id.strip()
    if external_id:
        account = db.session.scalar(select(Account).where(Account.external_id == external_id))
        if account is None:
            return None, f"No account has the external ID {external_id!r}."
        return account, None
    chosen = account_id or (str(default_id) if default_id is not None else "")
    number = database_id(chosen)
    account = db.session.get(Account, number) if number is not None else None
    if account is None:
        return None, "Add an account first: the preview renders the template for one."
    return account, None


def preview(
    subject: str, body: str, account: Account, *, now: datetime, html: bool = False
) -> sandbox.RenderedMessage:
    """Subject and body as ``account``'s primary contact would get them now; a template that
    does not render raises ``ValidationError`` with the problem by field."""
    problems: dict[str, str] = {}
    context = account_context(account, today=now.date())
    rendered: dict[str, str] = {}
    for field, source in (("subject", subject), ("body", body)):
        try:
            rendered[field] = sandbox.render(source or "", context, field=field)
        except sandbox.TemplateProblem as problem:
            problems[field] = problem.message
    if problems:
        raise ValidationError("The preview could not be rendered.", problems)
    return sandbox.render_message(subject, body, context, html=html)
