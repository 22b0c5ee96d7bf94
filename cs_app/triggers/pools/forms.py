"""Forms of the pool and queue pages.

They parse what people type into the shapes ``pools.service`` validates, so the rules and
their messages stay in the service; field names match the service's error fields. A
pool's member rows are a variable list of plain inputs (``m-<row>-<field>``), read here into
``MemberRow`` objects that keep what was typed for the re-rendered form; three blank rows add
members and a "Remove" tick drops one, so the editor works without JavaScript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from cs_app.errors import ValidationError
from cs_app.form_errors import show_errors
from cs_app.triggers.pools.models import OUTCOMES
from cs_app.triggers.pools.routing import STRATEGY_LABELS

BLANK_ROWS = 3
DEFAULT_CAPACITY = "20"


class PoolForm(FlaskForm):
    """The pool's own fields; the member rows are read by ``read_member_rows``."""

    name = StringField("Name")
    key = StringField("Key")
    description = TextAreaField("Description")
    strategy = SelectField(
        "Routing",
        validate_choice=False,
        choices=[SelectChoice(k, v) for k, v in STRATEGY_LABELS.items()],
    )
    lead = SelectField("Pool lead", validate_choice=False)
    default_sla_hours = StringField("Default SLA (hours)")

    def set_people(self, people: list[tuple[int, str]]) -> None:
        self.lead.choices = [
            SelectChoice("", "No lead: alert every CS lead"),
            *(SelectChoice(str(i), label) for i, label in people),
        ]
        sent = self.lead.data or ""
        if sent and sent not in {str(i) for i, _ in people}:
            self.lead.choices.append(SelectChoice(sent, f"User {sent} (can no longer lead)"))

    def load(self, pool) -> None:
        self.name.data = pool.name
        self.description.data = pool.description or ""
        self.strategy.data = pool.strategy
        self.lead.data = str(pool.lead_id or "")
        if pool.lead is not None and self.lead.data not in {c.value for c in self.lead.choices}:
            # a lead since deactivated (or made a viewer) stays visible, so saving names the
            # problem instead of dropping the lead without a word
            self.lead.choices.append(
                SelectChoice(self.lead.data, f"{pool.lead.name} (can no longer lead)")
            )
        self.default_sla_hours.data = str(pool.default_sla_hours)

    def values(self, rows: list[MemberRow]) -> dict[str, Any]:
        values = {
            "name": self.name.data or "",
            "description": self.description.data or "",
            "strategy": self.strategy.data or "",
            "lead": self.lead.data or None,
            "default_sla_hours": (self.default_sla_hours.data or "").strip(),
            "members": [row.values() for row in rows if not row.skipped],
        }
        if "key" in self and (self.key.data or "").strip():
            values["key"] = self.key.data.strip()
        return values


@dataclass
class MemberRow:
    """One member as typed: every value kept as sent, errors by field."""

    user: str = ""
    capacity: str = DEFAULT_CAPACITY
    segments: list[str] = field(default_factory=list)
    away: bool = False
    remove: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return (
            not self.user
            and self.capacity.strip() in ("", DEFAULT_CAPACITY)
            and not self.segments
            and not self.away
        )

    @property
    def skipped(self) -> bool:
        """Blank rows and rows ticked for removal are not part of the pool."""
        return self.blank or self.remove

    def values(self) -> dict[str, Any]:
        return {
            "user": self.user or None,
            "capacity": self.capacity.strip(),
            "segments": list(self.segments),
            "away": self.away,
        }

    @classmethod
    def from_member(cls, member) -> MemberRow:
        return cls(
            user=str(member.user_id),
            capacity=str(member.capacity),
            segments=list(member.segments or []),
            away=member.away,
        )


def read_member_rows(formdata) -> list[MemberRow]:
    """The posted member rows in their order on the page."""
    indexes = sorted(
        {int(m.group(1)) for name in formdata if (m := re.fullmatch(r"m-(\d+)-[a-z_]+", name))}
    )
    return [
        MemberRow(
            user=(formdata.get(f"m-{i}-user") or "").strip(),
            capacity=formdata.get(f"m-{i}-capacity") or "",
            segments=formdata.getlist(f"m-{i}-segments"),
            away=bool(formdata.get(f"m-{i}-away")),
            remove=bool(formdata.get(f"m-{i}-remove")),
        )
        for i in indexes
    ]


def with_blank_rows(rows: list[MemberRow], extra: int = BLANK_ROWS) -> list[MemberRow]:
    """Typed rows, without trailing blanks, then blank rows to add members in."""
    kept = list(rows)
    while kept and kept[-1].blank:
        kept.pop()
    return kept + [MemberRow() for _ in range(extra)]


def show_pool_errors(form: PoolForm, rows: list[MemberRow], error: ValidationError) -> list[str]:
    """Each message of the service beside its member row, then the shared placement for the
    rest; the messages that belong nowhere else are returned. The service counts only the rows
    it was sent (not blank, not removed), so its indexes are mapped back onto the page's
    rows."""
    sent = [row for row in rows if not row.skipped]
    elsewhere: set[str] = set()
    for name, message in error.fields.items():
        parts = name.split(".")
        if parts[0] == "members" and len(parts) == 3 and int(parts[1]) < len(sent):
            sent[int(parts[1])].errors[parts[2]] = message
            elsewhere.add(name)
    return show_errors(form, error, elsewhere=elsewhere)


class VersionedForm(FlaskForm):
    version = HiddenField()
    next = HiddenField()

    def version_number(self) -> int | None:
        value = (self.version.data or "").strip()
        return int(value) if value.isdigit() else None


class ClaimForm(VersionedForm):
    pass


class ReassignForm(VersionedForm):
    assignee = SelectField("Assign to", validate_choice=False)
    force = BooleanField("Assign anyway (away or full)")

    def set_members(self, members, current_assignee_id: int | None) -> None:
        self.assignee.choices = [
            SelectChoice(value, label)
            for value, label in member_choices(members, current_assignee_id)
        ]


def member_choices(members, current_assignee_id: int | None = None) -> list[tuple[str, str]]:
    """The pool's members with their load, so the choice shows who has room."""
    choices = [("", "Choose a member…")]
    for m in members:
        state = "away" if m.away else ("full" if m.full else "")
        label = f"{m.name} — {m.load}/{m.capacity} open" + (f", {state}" if state else "")
        if m.user_id == current_assignee_id:
            label += " (assigned now)"
        choices.append((str(m.user_id), label))
    return choices


class ResolveForm(VersionedForm):
    outcome = SelectField(
        "Outcome",
        validate_choice=False,
        choices=[
            SelectChoice("", "Choose an outcome…"),
            *(SelectChoice(k, v) for k, v in OUTCOMES.items()),
        ],
    )
    notes = TextAreaField("Notes")
