"""Forms of the touchpoint pages: the template editor (with its preview account) and the
filters of the touchpoint list. Rules and messages stay in the services; field names match the
services' error fields so refusals land beside the right field."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from cs_app.triggers.touchpoints.models import CHANNELS, TOUCHPOINT_STATUSES
from cs_app.triggers.touchpoints.service import TouchpointFilters

CHANNEL_HINTS = {
    "email": "Sent over SMTP to the recipient.",
    "in_app": "Posted to the product's signed webhook; the product shows it in-app.",
    "internal_alert": "An alert in cs_app for the CSM (or pool assignee), also mailed to them.",
    "call_task": "An alert in cs_app asking the CSM (or pool assignee) to call the contact.",
}


class TouchpointTemplateForm(FlaskForm):
    key = StringField("Key")
    name = StringField("Name")
    channel = SelectField(
        "Channel", validate_choice=False, choices=[SelectChoice(k, v) for k, v in CHANNELS.items()]
    )
    subject = StringField("Subject")
    body = TextAreaField("Body")
    version = HiddenField()
    preview_account = SelectField("Preview for", validate_choice=False, choices=[])
    preview_external_id = StringField("or external ID")

    def values(self) -> dict[str, str]:
        names = ("name", "channel", "subject", "body") + (("key",) if "key" in self else ())
        return {name: self[name].data or "" for name in names}

    def version_read(self) -> int | None:
        text = (self.version.data or "").strip()
        return int(text) if text.isdigit() else None


def preview_choices(accounts: list[tuple[int, str, str]]) -> list[SelectChoice]:
    return [
        SelectChoice(str(account_id), f"{name} ({external_id})")
        for account_id, name, external_id in accounts
    ]


def list_filters(args: Any) -> TouchpointFilters:
    """The list's query string as filters; unknown values are ignored, not errors."""
    status = args.get("status", "")
    channel = args.get("channel", "")
    direction = args.get("dir", "desc")
    return TouchpointFilters(
        status=status if status in TOUCHPOINT_STATUSES else "",
        channel=channel if channel in CHANNELS else "",
        account=(args.get("account") or "").strip()[:200],
        direction=direction if direction in ("asc", "desc") else "desc",
    )
