"""Every browser route against every role: who may read, who may write.

Each route of the app must appear in POLICY; a new route without a policy fails this test, so
nobody can add a page that forgets to check the user's role.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from cs_app.extensions import db
from cs_app.health.models import Scorecard
from cs_app.plans import service as plans
from cs_app.triggers.touchpoints.models import OutboxMessage
from tests.factories import (
    AccountFactory,
    ActionFactory,
    AlertFactory,
    ContactFactory,
    MilestoneFactory,
    OutcomeFactory,
    PlanFactory,
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RiskFactory,
    RuleFactory,
    StakeholderFactory,
    TouchpointFactory,
    TouchpointTemplateFactory,
    UserFactory,
)
from tests.integration import policy_pools, policy_rules, policy_touchpoints
from tests.integration.conftest import sign_in

ROLES = ("anonymous", "viewer", "csm_other", "csm_owner", "lead", "admin")
EVERYONE = set(ROLES) - {"anonymous"}
EDITORS = {"csm_owner", "lead", "admin"}
LEADS = {"lead", "admin"}

# endpoint → (roles that may GET, roles that may POST); None = the method is not offered
POLICY: dict[str, tuple[set[str] | None, set[str] | None]] = {
    "home.index": (EVERYONE, None),
    "auth.login": (set(ROLES), set(ROLES)),
    "auth.logout": (None, EVERYONE),
    "accounts.index": (EVERYONE, None),
    "accounts.show": (EVERYONE, None),
    "accounts.update": (None, EDITORS),
    "accounts.add_contact": (None, EDITORS),
    "accounts.update_contact": (None, EDITORS),
    "accounts.create_plan": (None, EDITORS),
    "plans.index": (EVERYONE, None),
    "plans.show": (EVERYONE, None),
    "plans.history": (EVERYONE, None),
    "plans.edit": (None, EDITORS),
    "plans.edit_profile": (None, EDITORS),
    "plans.add_item": (None, EDITORS),
    "plans.edit_item": (None, EDITORS),
    "plans.delete_item": (None, EDITORS),
    "plans.add_measurement": (None, EDITORS),
    "share.create_link": (None, EDITORS),
    "share.revoke_links": (None, EDITORS),
    "share.export_markdown": (EVERYONE, None),
    "share.view": (set(ROLES), None),
    "templates.index": (EVERYONE, None),
    "templates.show": (EVERYONE, None),
    "templates.new": (LEADS, LEADS),
    "templates.edit": (LEADS, LEADS),
    "templates.duplicate": (None, LEADS),
    "templates.delete": (None, LEADS),
    "admin.users": ({"admin"}, {"admin"}),
    "admin.user": ({"admin"}, {"admin"}),
    "admin.revoke_user_token": (None, {"admin"}),
    "admin.tokens": (EVERYONE, EVERYONE),
    "admin.password": (EVERYONE, EVERYONE),
    "admin.revoke_token": (None, EVERYONE),
    "dashboards.portfolio": (EVERYONE, None),
    "dashboards.widget_csv": (EVERYONE, None),
    "jobs.index": (LEADS, None),
    "jobs.run_now": (None, {"admin"}),
    "health.set_override": (None, EDITORS),
    "health.clear_override": (None, EDITORS),
    "health.scorecards": (EVERYONE, None),
    "health.scorecard": (EVERYONE, None),
    "health.backtest": (EVERYONE, None),
    "health.new_scorecard": (LEADS, LEADS),
    "health.edit_scorecard": (LEADS, LEADS),
}
# trigger rules, pools and touchpoints keep their policies beside their own tests
for _extra in (policy_rules.POLICY, policy_pools.POLICY, policy_touchpoints.POLICY):
    POLICY.update(_extra)


@pytest.fixture
def world(app, now):
    users = {role: UserFactory(role=role.split("_")[0], name=role) for role in ROLES[1:]}
    account = AccountFactory(external_id="ACME", csm=users["csm_owner"])
    contact = ContactFactory(account=account)
    plan = PlanFactory(account=account, owner=users["csm_owner"], plan_type="joint")
    items = {
        "outcomes": OutcomeFactory(plan=plan),
        "milestones": MilestoneFactory(plan=plan),
        "risks": RiskFactory(plan=plan),
        "actions": ActionFactory(plan=plan),
        "stakeholders": StakeholderFactory(plan=plan, contact=contact),
    }
    token = plans.create_share_link(plan, user=users["lead"], now=now)
    pool = PoolFactory(lead=users["lead"])
    PoolMemberFactory(pool=pool, user=users["csm_owner"])
    touchpoint = TouchpointFactory(account=account)
    outbox_message = OutboxMessage(
        touchpoint_id=touchpoint.id,
        message_id=touchpoint.message_id,
        mail_from="cs@example.test",
        to="dana@acme.example",
        subject="Welcome",
        headers="Subject: Welcome",
        raw="Subject: Welcome\n\nHello",
        created_at=now,
    )
    db.session.add(outbox_message)
    db.session.flush()
    triggers = {
        "rule_id": RuleFactory().id,
        "pool_id": pool.id,
        "queue_item_id": QueueItemFactory(
            pool=pool, account=account, assignee=users["csm_owner"]
        ).id,
        "touchpoint_id": touchpoint.id,
        "outbox_message_id": outbox_message.id,
        "tp_template_id": TouchpointTemplateFactory().id,
        "alert_id": AlertFactory(user=users["csm_owner"]).id,
    }
    db.session.commit()
    return {
        "users": users,
        "account": account,
        "contact": contact,
        "plan": plan,
        "items": items,
        "token": token,
        "triggers": triggers,
    }


def _url(rule, world) -> str:
    values = {
        "external_id": world["account"].external_id,
        "plan_id": world["plan"].id,
        "contact_id": world["contact"].id,
        "key": "joint",
        "token": world["token"],
        "user_id": world["users"]["viewer"].id,
        "token_id": 999_999,
        "component": "actions",
        "item_id": world["items"]["actions"].id,
        "widget": "bands",
        "job_name": "recompute-pending-health",
        "scorecard_id": db.session.scalar(select(Scorecard.id).order_by(Scorecard.id)),
        **world["triggers"],
    }
    if "/outcomes/" in rule.rule and "item_id" in rule.arguments:
        values["item_id"] = world["items"]["outcomes"].id
    url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)
    return re.sub(r"<any\([^)]*\):component>", "actions", url)


def browser_rules(app):
    return [r for r in app.url_map.iter_rules() if not r.endpoint.startswith(("api.", "static"))]


def test_every_route_has_a_policy(app):
    missing = sorted({r.endpoint for r in browser_rules(app)} - set(POLICY))
    assert missing == [], f"add these endpoints to POLICY: {missing}"


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(app, world, role):
    client = app.test_client()
    if role != "anonymous":
        sign_in(client, world["users"][role])
    problems = []
    for rule in browser_rules(app):
        if rule.endpoint in ("auth.logout",):
            continue  # signing out mid-matrix would change the role under test
        may_get, may_post = POLICY[rule.endpoint]
        url = _url(rule, world)
        for method, allowed in (("GET", may_get), ("POST", may_post)):
            if allowed is None or method not in rule.methods:
                continue
            response = client.open(url, method=method, data={})
            status = response.status_code
            if role in allowed:
                ok = status not in (401, 403) and not (
                    status == 302 and "/login" in response.headers.get("Location", "")
                )
            elif role == "anonymous":
                ok = status == 302 and "/login" in response.headers["Location"]
            else:
                ok = status == 403
            if not ok:
                problems.append(f"{method} {url} ({rule.endpoint}) as {role}: {status}")
    assert problems == []
