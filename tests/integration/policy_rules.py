"""Role policies of the browser routes for trigger rules (cs_app/triggers/rules/views.py and
backtest_views.py); merged into ``test_role_matrix.POLICY``. URL parameters the matrix fills
in: rule_id, pool_id, queue_item_id, touchpoint_id, tp_template_id, alert_id (see
``test_role_matrix.world``)."""

from __future__ import annotations

ROLES = ("anonymous", "viewer", "csm_other", "csm_owner", "lead", "admin")
EVERYONE = set(ROLES) - {"anonymous"}
EDITORS = {"csm_owner", "lead", "admin"}
LEADS = {"lead", "admin"}

# endpoint → (roles that may GET, roles that may POST); None = the method is not offered
POLICY: dict[str, tuple[set[str] | None, set[str] | None]] = {
    "rules.index": (EVERYONE, None),
    "rules.show": (EVERYONE, None),
    "rules.new": (LEADS, LEADS),
    "rules.edit": (LEADS, LEADS),
    "rules.enable": (None, LEADS),
    "rules.disable": (None, LEADS),
    "rules.delete": (None, LEADS),
    "rule_backtests.show": (EVERYONE, None),
}
