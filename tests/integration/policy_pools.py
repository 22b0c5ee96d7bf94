"""Role policies of the browser routes for CSM pools, queues and alerts
(cs_app/triggers/pools/views.py, cs_app/triggers/alerts/views.py); merged into
``test_role_matrix.POLICY``. URL parameters the matrix fills in: rule_id, pool_id,
queue_item_id, touchpoint_id, tp_template_id, alert_id (see ``test_role_matrix.world``)."""

from __future__ import annotations

ROLES = ("anonymous", "viewer", "csm_other", "csm_owner", "lead", "admin")
EVERYONE = set(ROLES) - {"anonymous"}
EDITORS = {"csm_owner", "lead", "admin"}
LEADS = {"lead", "admin"}

# endpoint → (roles that may GET, roles that may POST); None = the method is not offered
# The matrix's pool is led by "lead" and has "csm_owner" as its only member; its item is
# assigned to "csm_owner" and the alert belongs to "csm_owner". Leads and admins manage every
# pool; "csm_other" has no part in the pool, so it may read the queue but not act on it.
POLICY: dict[str, tuple[set[str] | None, set[str] | None]] = {
    "pools.index": (EVERYONE, None),
    "pools.new": (LEADS, LEADS),
    "pools.edit": (LEADS, LEADS),
    "pools.show": (EVERYONE, None),
    "pools.my_queue": (EVERYONE, None),
    "pools.item": (EVERYONE, None),
    "pools.claim": (None, EDITORS),
    "pools.reassign": (None, EDITORS),
    "pools.resolve": (None, EDITORS),
    "pools.reopen": (None, EDITORS),
    "alerts.index": (EVERYONE, None),
    "alerts.read": (None, {"csm_owner"}),
    "alerts.read_all": (None, EVERYONE),
}
