"""install built-in rules, touchpoint templates and pools

Revision ID: 87fd59e0cc7f
Revises: c6ffd127d16c
Create Date: 2026-11-21 10:51:58.022454

"""
from alembic import op
import sqlalchemy as sa
import cs_app.db_types


# revision identifiers, used by Alembic.
revision = '87fd59e0cc7f'
down_revision = 'c6ffd127d16c'
branch_labels = None
depends_on = None

# Copies of BUILTIN_POOLS, BUILTIN_TOUCHPOINT_TEMPLATES and BUILTIN_RULES of
# cs_app.triggers.builtin_rules as this revision installs them. A migration carries its own
# data so that it does the same on every database, whatever the live constants say later.
BUILTIN_POOLS = [
    {
        "key": "csm-pool",
        "name": "CSM Pool",
        "strategy": "segment_first",
        "default_sla_hours": 24,
        "description": "The pooled CSM team: risk alerts, rescue outreach, expansion calls and "
        "support escalations are routed here.",
    },
    {
        "key": "renewal-specialists",
        "name": "Renewal Specialists",
        "strategy": "least_loaded",
        "default_sla_hours": 48,
        "description": "Renewal specialists take renewals that are close and unanswered.",
    },
]

BUILTIN_TOUCHPOINT_TEMPLATES = [
    {
        "key": "welcome-email",
        "name": "Welcome sequence",
        "channel": "email",
        "subject": "Welcome to your new workspace, {{ contact.first_name }}",
        "body": "Hi {{ contact.first_name }},\n"
        "\n"
        "Welcome aboard! I'm {{ csm.name }}, your customer success manager for {{ "
        "account.name }}. Over the next weeks we'll get your team set up and to its first "
        "win.\n"
        "\n"
        "To start:\n"
        "- Getting Started Guide: initial setup and configuration\n"
        "- Video Tutorial Library: feature walkthroughs\n"
        "- Knowledge Base: troubleshooting and FAQs\n"
        "- Community Forum: peer support and best practices\n"
        "\n"
        "Reply to this email any time.\n"
        "\n"
        "{{ csm.name }}",
    },
    {
        "key": "reengagement-email",
        "name": "Re-engagement prompt (email)",
        "channel": "email",
        "subject": "{{ contact.first_name }}, pick up where you left off",
        "body": "Hi {{ contact.first_name }},\n"
        "\n"
        "We haven't seen your team in {{ account.name }}'s workspace for a week. Most teams "
        "get going again with a 15-minute walkthrough of the features they set out to use — "
        "reply and {{ csm.name }} will book one.\n"
        "\n"
        "{{ csm.name }}",
    },
    {
        "key": "reengagement-in-app",
        "name": "Re-engagement prompt (in-app)",
        "channel": "in_app",
        "subject": "Welcome back — here is what's new",
        "body": "Pick up where you left off: your workspace has a short checklist of next steps.",
    },
    {
        "key": "first-feature-congrats",
        "name": "Congratulations + next steps",
        "channel": "in_app",
        "subject": "Nice work — your first feature is live",
        "body": "Congratulations on activating your first feature, {{ contact.first_name }}! Next: "
        "invite your team and connect your data to see the full picture.",
    },
    {
        "key": "checkin-survey",
        "name": "30-day check-in survey",
        "channel": "email",
        "subject": "How are your first 30 days going, {{ contact.first_name }}?",
        "body": "Hi {{ contact.first_name }},\n"
        "\n"
        "{{ account.name }} has been with us for a month. Two minutes of feedback tell us "
        "what to improve: how likely are you to recommend us (0–10), and what is the one "
        "thing you'd change?\n"
        "\n"
        "Thank you,\n"
        "{{ csm.name }}",
    },
    {
        "key": "risk-alert",
        "name": "Risk alert to the CSM pool",
        "channel": "internal_alert",
        "subject": "Risk alert: {{ account.name }} usage dropped",
        "body": "{{ account.name }} ({{ account.segment }}, renewal {{ account.renewal_date }}) used "
        "the product at least 50 % less in the last 30 days than in the 30 before. Review "
        "the account and reach out.",
    },
    {
        "key": "renewal-sequence",
        "name": "Renewal sequence",
        "channel": "email",
        "subject": "Planning {{ account.name }}'s renewal",
        "body": "Hi {{ contact.first_name }},\n"
        "\n"
        "Your subscription renews on {{ account.renewal_date }}. Let's review the outcomes "
        "we agreed on and plan the year ahead — reply with a time that suits you.\n"
        "\n"
        "{{ csm.name }}",
    },
    {
        "key": "expansion-call",
        "name": "Outbound expansion call",
        "channel": "call_task",
        "subject": "Call {{ contact.name }} at {{ account.name }} about expansion",
        "body": "{{ account.name }} is healthy and shows an expansion signal (quota, seats or "
        "premium features). Call {{ contact.name }} ({{ contact.email }}) to discuss the "
        "next tier.",
    },
    {
        "key": "rescue-outreach",
        "name": "Rescue outreach",
        "channel": "call_task",
        "subject": "Rescue outreach: call {{ contact.name }} at {{ account.name }}",
        "body": "{{ account.name }}'s health is critical. Call {{ contact.name }} ({{ contact.email "
        "}}) within the SLA, agree a recovery plan and log it on the success plan.",
    },
    {
        "key": "warm-transfer",
        "name": "Support escalation warm transfer",
        "channel": "internal_alert",
        "subject": "Support escalation at {{ account.name }}: warm transfer",
        "body": "Support escalated a ticket at {{ account.name }}. Join the thread, introduce "
        "yourself to {{ contact.name }} and take the conversation over from support.",
    },
    {
        "key": "renewal-direct-outreach",
        "name": "Renewal direct outreach",
        "channel": "call_task",
        "subject": "Renewal in under 30 days, no answer: call {{ account.name }}",
        "body": "{{ account.name }} renews on {{ account.renewal_date }} and its sponsor has not "
        "been in touch for 30 days. Call {{ contact.name }} directly.",
    },
    {
        "key": "usage-limit-80",
        "name": "Usage at 80 % of quota",
        "channel": "in_app",
        "subject": "You've used 80 % of your plan's quota",
        "body": "Your team is getting a lot out of the product. Upgrade before you reach the limit "
        "so nothing stops.",
    },
    {
        "key": "usage-limit-100",
        "name": "Usage at 100 % of quota",
        "channel": "in_app",
        "subject": "You've reached your plan's quota",
        "body": "Your team has used its full quota. Upgrade now to keep going without interruption.",
    },
    {
        "key": "usage-limit-100-email",
        "name": "Usage at 100 % of quota (email)",
        "channel": "email",
        "subject": "{{ account.name }} has reached its quota",
        "body": "Hi {{ contact.first_name }},\n"
        "\n"
        "Your team has used 100 % of the quota included in your plan. Upgrading takes a "
        "minute and keeps everything running; {{ csm.name }} can walk you through the "
        "options.\n"
        "\n"
        "{{ csm.name }}",
    },
    {
        "key": "feature-gate-upsell",
        "name": "Premium feature prompt",
        "channel": "in_app",
        "subject": "This feature is part of a higher plan",
        "body": "Your team tried a premium feature. See what the next plan adds and upgrade in a few "
        "clicks.",
    },
    {
        "key": "trial-ending-3d",
        "name": "Trial ending in 3 days",
        "channel": "email",
        "subject": "Your trial ends in 3 days",
        "body": "Hi {{ contact.first_name }},\n"
        "\n"
        "Your {{ account.name }} trial ends in 3 days. Choose a plan now to keep your data "
        "and settings.\n"
        "\n"
        "{{ csm.name }}",
    },
    {
        "key": "trial-ending-1d",
        "name": "Trial ending tomorrow",
        "channel": "email",
        "subject": "Your trial ends tomorrow",
        "body": "Hi {{ contact.first_name }},\n"
        "\n"
        "One day left on the {{ account.name }} trial. Pick a plan today and nothing changes "
        "for your team.\n"
        "\n"
        "{{ csm.name }}",
    },
    {
        "key": "trial-ending-today",
        "name": "Trial ends today",
        "channel": "email",
        "subject": "Your trial ends today",
        "body": "Hi {{ contact.first_name }},\n"
        "\n"
        "Your {{ account.name }} trial ends today. Upgrade now to keep going.\n"
        "\n"
        "{{ csm.name }}",
    },
    {
        "key": "team-growth-upgrade",
        "name": "Team growth prompt",
        "channel": "in_app",
        "subject": "Your team is growing",
        "body": "You're inviting more teammates. A team plan adds seats, roles and shared "
        "workspaces.",
    },
]

BUILTIN_RULES = [
    {
        "key": "journey-welcome",
        "name": "Account created: welcome sequence",
        "kind": "lifecycle",
        "condition": {"all": [{"signal": "account_age_days", "op": "between", "value": [0, 7]}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "welcome-email",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
        "description": "Journey trigger “Account created” → welcome sequence, email, day 0.",
        "once_policy": "once_ever",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "journey-no-login-7d",
        "name": "No login after 7 days: re-engagement prompt",
        "kind": "lifecycle",
        "condition": {
            "any": [
                {"signal": "days_since_last_login", "op": ">=", "value": 7},
                {
                    "all": [
                        {"signal": "days_since_last_login", "op": "is_null", "value": None},
                        {"signal": "account_age_days", "op": ">=", "value": 7},
                    ]
                },
            ]
        },
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "reengagement-email",
                "recipient": "primary_contact",
                "delay_days": 0,
            },
            {
                "type": "schedule_touchpoint",
                "channel": "in_app",
                "template": "reengagement-in-app",
                "recipient": "primary_contact",
                "delay_days": 0,
            },
        ],
        "description": "Journey trigger “No login after 7 days” → re-engagement prompt, email and "
        "in-app, day 7. Fires again after a 30-day cooldown if the account lapses "
        "again.",
        "once_policy": "cooldown",
        "cooldown_days": 30,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "journey-first-feature",
        "name": "First feature activated: congratulations",
        "kind": "lifecycle",
        "condition": {"all": [{"signal": "segment", "op": "not_null", "value": None}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "in_app",
                "template": "first-feature-congrats",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
        "description": "Journey trigger “First feature activated” → congratulations and next steps, "
        "in-app, on the account's first feature_used event.",
        "once_policy": "once_ever",
        "cooldown_days": 0,
        "mode": "event",
        "event_type": "feature_used",
        "event_properties": None,
        "first_event_only": True,
    },
    {
        "key": "journey-30-day-checkin",
        "name": "30-day mark: check-in survey",
        "kind": "lifecycle",
        "condition": {"all": [{"signal": "account_age_days", "op": "between", "value": [30, 37]}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "checkin-survey",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
        "description": "Journey trigger “30-day mark” → check-in survey, email, day 30.",
        "once_policy": "once_ever",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "journey-usage-drop",
        "name": "Usage drops 50 %+: risk alert to the CSM pool",
        "kind": "risk",
        "condition": {"all": [{"signal": "usage_change_pct", "op": "<=", "value": -50}]},
        "actions": [
            {"type": "route_to_pool", "pool": "csm-pool", "priority": "high", "sla_hours": 24},
            {
                "type": "schedule_touchpoint",
                "channel": "internal_alert",
                "template": "risk-alert",
                "recipient": "pool_assignee",
                "delay_days": 0,
            },
        ],
        "description": "Journey trigger “Usage drops 50 %+” → risk alert to the CSM pool (internal). "
        "Evaluated whenever usage data has been recomputed.",
        "once_policy": "while_open",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "journey-renewal-60d",
        "name": "60 days before renewal: renewal sequence",
        "kind": "renewal",
        "condition": {"all": [{"signal": "days_to_renewal", "op": "between", "value": [31, 60]}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "renewal-sequence",
                "recipient": "executive_sponsor",
                "delay_days": 0,
            }
        ],
        "description": "Journey trigger “60 days before renewal” → renewal sequence, email to the "
        "executive sponsor, day −60.",
        "once_policy": "once_per_renewal_cycle",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "human-expansion-call",
        "name": "High health + expansion signal: outbound call",
        "kind": "expansion",
        "condition": {
            "all": [
                {"signal": "health_band", "op": "=", "value": "healthy"},
                {
                    "any": [
                        {"signal": "quota_used_pct", "op": ">=", "value": 80},
                        {"signal": "seat_utilization_pct", "op": ">=", "value": 100},
                        {"signal": "feature_gate_hits_7d", "op": ">=", "value": 3},
                        {"signal": "upgrade_intent_open", "op": "=", "value": True},
                    ]
                },
            ]
        },
        "actions": [
            {"type": "route_to_pool", "pool": "csm-pool", "priority": "normal", "sla_hours": 72},
            {
                "type": "schedule_touchpoint",
                "channel": "call_task",
                "template": "expansion-call",
                "recipient": "pool_assignee",
                "delay_days": 0,
            },
        ],
        "description": "Human touchpoint “High health score + expansion signal” → outbound call by "
        "the CSM pool.",
        "once_policy": "cooldown",
        "cooldown_days": 30,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "human-risk-rescue",
        "name": "Risk alert triggered: rescue outreach",
        "kind": "risk",
        "condition": {
            "any": [
                {"signal": "health_band", "op": "=", "value": "critical"},
                {"signal": "health_change_30d", "op": "<=", "value": -15},
            ]
        },
        "actions": [
            {"type": "route_to_pool", "pool": "csm-pool", "priority": "high", "sla_hours": 24},
            {
                "type": "schedule_touchpoint",
                "channel": "call_task",
                "template": "rescue-outreach",
                "recipient": "pool_assignee",
                "delay_days": 0,
            },
        ],
        "description": "Human touchpoint “Risk alert triggered” → rescue outreach by the CSM pool: "
        "the account is critical or lost 15+ points in 30 days.",
        "once_policy": "while_open",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "human-support-escalation",
        "name": "Support escalation: warm transfer to a CSM",
        "kind": "risk",
        "condition": {"all": [{"signal": "segment", "op": "not_null", "value": None}]},
        "actions": [
            {"type": "route_to_pool", "pool": "csm-pool", "priority": "high", "sla_hours": 4},
            {
                "type": "schedule_touchpoint",
                "channel": "internal_alert",
                "template": "warm-transfer",
                "recipient": "pool_assignee",
                "delay_days": 0,
            },
        ],
        "description": "Human touchpoint “Support escalation” → warm transfer from support to a CSM, "
        "on a high or urgent support ticket.",
        "once_policy": "while_open",
        "cooldown_days": 0,
        "mode": "event",
        "event_type": "support_ticket",
        "event_properties": {"severity": ["high", "urgent"]},
        "first_event_only": False,
    },
    {
        "key": "human-renewal-no-response",
        "name": "Renewal within 30 days, no response: direct outreach",
        "kind": "renewal",
        "condition": {
            "all": [
                {"signal": "days_to_renewal", "op": "between", "value": [0, 30]},
                {
                    "any": [
                        {"signal": "days_since_sponsor_contact", "op": ">=", "value": 30},
                        {"signal": "days_since_sponsor_contact", "op": "is_null", "value": None},
                    ]
                },
            ]
        },
        "actions": [
            {
                "type": "route_to_pool",
                "pool": "renewal-specialists",
                "priority": "high",
                "sla_hours": 48,
            },
            {
                "type": "schedule_touchpoint",
                "channel": "call_task",
                "template": "renewal-direct-outreach",
                "recipient": "pool_assignee",
                "delay_days": 0,
            },
        ],
        "description": "Human touchpoint “Renewal within 30 days + no response” → direct outreach by "
        "a renewal specialist: the sponsor has not been in touch for 30 days.",
        "once_policy": "once_per_renewal_cycle",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "upgrade-quota-80",
        "name": "Usage at 80 % of quota: upgrade prompt",
        "kind": "expansion",
        "condition": {
            "all": [
                {"signal": "quota_used_pct", "op": ">=", "value": 80},
                {"signal": "quota_used_pct", "op": "<", "value": 100},
            ]
        },
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "in_app",
                "template": "usage-limit-80",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
        "description": "Upgrade trigger “Usage limit”: the customer is at 80 % of the included "
        "quota.",
        "once_policy": "once_per_renewal_cycle",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "upgrade-quota-100",
        "name": "Usage at 100 % of quota: upgrade prompt",
        "kind": "expansion",
        "condition": {"all": [{"signal": "quota_used_pct", "op": ">=", "value": 100}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "in_app",
                "template": "usage-limit-100",
                "recipient": "primary_contact",
                "delay_days": 0,
            },
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "usage-limit-100-email",
                "recipient": "primary_contact",
                "delay_days": 0,
            },
        ],
        "description": "Upgrade trigger “Usage limit”: the customer has used 100 % of the included "
        "quota.",
        "once_policy": "once_per_renewal_cycle",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "upgrade-feature-gate",
        "name": "Feature-gate hit: premium feature prompt",
        "kind": "expansion",
        "condition": {"all": [{"signal": "segment", "op": "not_null", "value": None}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "in_app",
                "template": "feature-gate-upsell",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
        "description": "Upgrade trigger “Feature gate”: the customer clicked a premium feature.",
        "once_policy": "cooldown",
        "cooldown_days": 7,
        "mode": "event",
        "event_type": "feature_gate_hit",
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "upgrade-trial-3d",
        "name": "Trial ending in 3 days",
        "kind": "expansion",
        "condition": {"all": [{"signal": "trial_days_left", "op": "between", "value": [2, 3]}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "trial-ending-3d",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
        "description": "Upgrade trigger “Trial ending”: 3 days before the trial expires.",
        "once_policy": "once_ever",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "upgrade-trial-1d",
        "name": "Trial ending tomorrow",
        "kind": "expansion",
        "condition": {"all": [{"signal": "trial_days_left", "op": "=", "value": 1}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "trial-ending-1d",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
        "description": "Upgrade trigger “Trial ending”: 1 day before the trial expires.",
        "once_policy": "once_ever",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "upgrade-trial-today",
        "name": "Trial ends today",
        "kind": "expansion",
        "condition": {"all": [{"signal": "trial_days_left", "op": "=", "value": 0}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "trial-ending-today",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
        "description": "Upgrade trigger “Trial ending”: the day the trial expires.",
        "once_policy": "once_ever",
        "cooldown_days": 0,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    },
    {
        "key": "upgrade-team-growth",
        "name": "Team growth: team plan prompt",
        "kind": "expansion",
        "condition": {"all": [{"signal": "segment", "op": "not_null", "value": None}]},
        "actions": [
            {
                "type": "schedule_touchpoint",
                "channel": "in_app",
                "template": "team-growth-upgrade",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
        "description": "Upgrade trigger “Team growth”: the customer added seats (invited more "
        "teammates).",
        "once_policy": "cooldown",
        "cooldown_days": 30,
        "mode": "event",
        "event_type": "seat_added",
        "event_properties": None,
        "first_event_only": False,
    },
]


def upgrade():
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    pools = sa.table(
        "csm_pools", sa.column("key", sa.String), sa.column("name", sa.String),
        sa.column("description", sa.Text), sa.column("strategy", sa.String),
        sa.column("default_sla_hours", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(pools, [dict(p, created_at=now) for p in BUILTIN_POOLS])
    templates = sa.table(
        "touchpoint_templates", sa.column("key", sa.String), sa.column("name", sa.String),
        sa.column("channel", sa.String), sa.column("subject", sa.String),
        sa.column("body", sa.Text), sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("version", sa.Integer),
    )
    op.bulk_insert(templates, [dict(t, updated_at=now, version=1)
                               for t in BUILTIN_TOUCHPOINT_TEMPLATES])
    rules = sa.table(
        "rules", sa.column("key", sa.String), sa.column("name", sa.String),
        sa.column("description", sa.Text), sa.column("kind", sa.String),
        sa.column("enabled", sa.Boolean), sa.column("mode", sa.String),
        sa.column("event_type", sa.String), sa.column("event_properties", sa.JSON),
        sa.column("first_event_only", sa.Boolean), sa.column("condition", sa.JSON),
        sa.column("actions", sa.JSON), sa.column("once_policy", sa.String),
        sa.column("cooldown_days", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)), sa.column("version", sa.Integer),
    )
    op.bulk_insert(rules, [dict(r, enabled=True, created_at=now, updated_at=now, version=1)
                           for r in BUILTIN_RULES])


def downgrade():
    for table, rows in (("rules", BUILTIN_RULES),
                        ("touchpoint_templates", BUILTIN_TOUCHPOINT_TEMPLATES),
                        ("csm_pools", BUILTIN_POOLS)):
        keys = sa.bindparam("keys", [row["key"] for row in rows], expanding=True)
        op.get_bind().execute(sa.text(f"DELETE FROM {table} WHERE key IN :keys")
                              .bindparams(keys))
