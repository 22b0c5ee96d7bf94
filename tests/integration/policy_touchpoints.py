"""Role policies of the browser routes for touchpoints and their templates
(cs_app/triggers/touchpoints/views.py); merged into ``test_role_matrix.POLICY``. URL parameters
the matrix fills in: rule_id, pool_id, queue_item_id, touchpoint_id, tp_template_id, alert_id,
outbox_message_id (see ``test_role_matrix.world``).

Everyone signed in reads touchpoints and templates; the account's CSM, leads and admins retry
or cancel a touchpoint (the matrix's touchpoint is on csm_owner's account); leads and admins
write templates. Only admins read the development outbox (every email's full text)."""

from __future__ import annotations

ROLES = ("anonymous", "viewer", "csm_other", "csm_owner", "lead", "admin")
EVERYONE = set(ROLES) - {"anonymous"}
EDITORS = {"csm_owner", "lead", "admin"}
LEADS = {"lead", "admin"}

# endpoint → (roles that may GET, roles that may POST); None = the method is not offered
POLICY: dict[str, tuple[set[str] | None, set[str] | None]] = {
    "touchpoints.index": (EVERYONE, None),
    "touchpoints.show": (EVERYONE, None),
    "touchpoints.retry": (None, EDITORS),
    "touchpoints.cancel": (None, EDITORS),
    "touchpoints.templates_index": (EVERYONE, None),
    "touchpoints.template_show": (EVERYONE, None),
    "touchpoints.template_new": (LEADS, LEADS),
    "touchpoints.template_edit": (LEADS, LEADS),
    "touchpoints.outbox": ({"admin"}, None),
    "touchpoints.outbox_message": ({"admin"}, None),
}
