"""The rules, touchpoint templates and pools the app ships with.

Every row of the seed's "Automated Journey Triggers" and "Human Touchpoints" tables and every
upgrade trigger of the self-serve quick start (quota at 80 % and 100 %, feature-gate hits, trial
ending in 3 days, 1 day and today, team growth) is a real rule here. A data migration installs
them on every new database; leads then edit them like any other rule. The pools ship without
members: a lead adds the CSMs (until then routed items wait unassigned and the lead is told).

Scheduled rules read the signals of the latest recompute (nightly, and within minutes of new
usage data), so "day N" rules use a short window rather than an exact day, and their once-only
policy keeps them from firing twice.
"""

from __future__ import annotations

ALWAYS = {"all": [{"signal": "segment", "op": "not_null", "value": None}]}

BUILTIN_POOLS: list[dict] = [
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


def _template(key: str, name: str, channel: str, subject: str, body: str) -> dict:
    return {"key": key, "name": name, "channel": channel, "subject": subject, "body": body}


BUILTIN_TOUCHPOINT_TEMPLATES: list[dict] = [
    _template(
        "welcome-email",
        "Welcome sequence",
        "email",
        "Welcome to your new workspace, {{ contact.first_name }}",
        "Hi {{ contact.first_name }},\n\n"
        "Welcome aboard! I'm {{ csm.name }}, your customer success manager for "
        "{{ account.name }}. Over the next weeks we'll get your team set up and to its first "
        "win.\n\nTo start:\n- Getting Started Guide: initial setup and configuration\n"
        "- Video Tutorial Library: feature walkthroughs\n"
        "- Knowledge Base: troubleshooting and FAQs\n"
        "- Community Forum: peer support and best practices\n\n"
        "Reply to this email any time.\n\n{{ csm.name }}",
    ),
    _template(
        "reengagement-email",
        "Re-engagement prompt (email)",
        "email",
        "{{ contact.first_name }}, pick up where you left off",
        "Hi {{ contact.first_name }},\n\nWe haven't seen your team in {{ account.name }}'s "
        "workspace for a week. Most teams get going again with a 15-minute walkthrough of the "
        "features they set out to use — reply and {{ csm.name }} will book one.\n\n"
        "{{ csm.name }}",
    ),
    _template(
        "reengagement-in-app",
        "Re-engagement prompt (in-app)",
        "in_app",
        "Welcome back — here is what's new",
        "Pick up where you left off: your workspace has a short checklist of next steps.",
    ),
    _template(
        "first-feature-congrats",
        "Congratulations + next steps",
        "in_app",
        "Nice work — your first feature is live",
        "Congratulations on activating your first feature, {{ contact.first_name }}! Next: "
        "invite your team and connect your data to see the full picture.",
    ),
    _template(
        "checkin-survey",
        "30-day check-in survey",
        "email",
        "How are your first 30 days going, {{ contact.first_name }}?",
        "Hi {{ contact.first_name }},\n\n{{ account.name }} has been with us for a month. Two "
        "minutes of feedback tell us what to improve: how likely are you to recommend us "
        "(0–10), and what is the one thing you'd change?\n\nThank you,\n{{ csm.name }}",
    ),
    _template(
        "risk-alert",
        "Risk alert to the CSM pool",
        "internal_alert",
        "Risk alert: {{ account.name }} usage dropped",
        "{{ account.name }} ({{ account.segment }}, renewal {{ account.renewal_date }}) used the "
        "product at least 50 % less in the last 30 days than in the 30 before. Review the "
        "account and reach out.",
    ),
    _template(
        "renewal-sequence",
        "Renewal sequence",
        "email",
        "Planning {{ account.name }}'s renewal",
        "Hi {{ contact.first_name }},\n\nYour subscription renews on "
        "{{ account.renewal_date }}. Let's review the outcomes we agreed on and plan the year "
        "ahead — reply with a time that suits you.\n\n{{ csm.name }}",
    ),
    _template(
        "expansion-call",
        "Outbound expansion call",
        "call_task",
        "Call {{ contact.name }} at {{ account.name }} about expansion",
        "{{ account.name }} is healthy and shows an expansion signal (quota, seats or premium "
        "features). Call {{ contact.name }} ({{ contact.email }}) to discuss the next tier.",
    ),
    _template(
        "rescue-outreach",
        "Rescue outreach",
        "call_task",
        "Rescue outreach: call {{ contact.name }} at {{ account.name }}",
        "{{ account.name }}'s health is critical. Call {{ contact.name }} "
        "({{ contact.email }}) within the SLA, agree a recovery plan and log it on the "
        "success plan.",
    ),
    _template(
        "warm-transfer",
        "Support escalation warm transfer",
        "internal_alert",
        "Support escalation at {{ account.name }}: warm transfer",
        "Support escalated a ticket at {{ account.name }}. Join the thread, introduce yourself "
        "to {{ contact.name }} and take the conversation over from support.",
    ),
    _template(
        "renewal-direct-outreach",
        "Renewal direct outreach",
        "call_task",
        "Renewal in under 30 days, no answer: call {{ account.name }}",
        "{{ account.name }} renews on {{ account.renewal_date }} and its sponsor has not been "
        "in touch for 30 days. Call {{ contact.name }} directly.",
    ),
    _template(
        "usage-limit-80",
        "Usage at 80 % of quota",
        "in_app",
        "You've used 80 % of your plan's quota",
        "Your team is getting a lot out of the product. Upgrade before you reach the limit so "
        "nothing stops.",
    ),
    _template(
        "usage-limit-100",
        "Usage at 100 % of quota",
        "in_app",
        "You've reached your plan's quota",
        "Your team has used its full quota. Upgrade now to keep going without interruption.",
    ),
    _template(
        "usage-limit-100-email",
        "Usage at 100 % of quota (email)",
        "email",
        "{{ account.name }} has reached its quota",
        "Hi {{ contact.first_name }},\n\nYour team has used 100 % of the quota included in "
        "your plan. Upgrading takes a minute and keeps everything running; {{ csm.name }} can "
        "walk you through the options.\n\n{{ csm.name }}",
    ),
    _template(
        "feature-gate-upsell",
        "Premium feature prompt",
        "in_app",
        "This feature is part of a higher plan",
        "Your team tried a premium feature. See what the next plan adds and upgrade in a "
        "few clicks.",
    ),
    _template(
        "trial-ending-3d",
        "Trial ending in 3 days",
        "email",
        "Your trial ends in 3 days",
        "Hi {{ contact.first_name }},\n\nYour {{ account.name }} trial ends in 3 days. Choose "
        "a plan now to keep your data and settings.\n\n{{ csm.name }}",
    ),
    _template(
        "trial-ending-1d",
        "Trial ending tomorrow",
        "email",
        "Your trial ends tomorrow",
        "Hi {{ contact.first_name }},\n\nOne day left on the {{ account.name }} trial. Pick a "
        "plan today and nothing changes for your team.\n\n{{ csm.name }}",
    ),
    _template(
        "trial-ending-today",
        "Trial ends today",
        "email",
        "Your trial ends today",
        "Hi {{ contact.first_name }},\n\nYour {{ account.name }} trial ends today. Upgrade now "
        "to keep going.\n\n{{ csm.name }}",
    ),
    _template(
        "team-growth-upgrade",
        "Team growth prompt",
        "in_app",
        "Your team is growing",
        "You're inviting more teammates. A team plan adds seats, roles and shared workspaces.",
    ),
]


def _touch(
    channel: str, template: str, recipient: str = "primary_contact", delay_days: int = 0
) -> dict:
    return {
        "type": "schedule_touchpoint",
        "channel": channel,
        "template": template,
        "recipient": recipient,
        "delay_days": delay_days,
    }


def _route(pool: str, priority: str, sla_hours: int) -> dict:
    return {"type": "route_to_pool", "pool": pool, "priority": priority, "sla_hours": sla_hours}


def _rule(
    key: str,
    name: str,
    kind: str,
    condition: dict,
    actions: list[dict],
    *,
    description: str,
    once_policy: str = "while_open",
    cooldown_days: int = 0,
    mode: str = "scheduled",
    event_type: str | None = None,
    event_properties: dict | None = None,
    first_event_only: bool = False,
) -> dict:
    return {
        "key": key,
        "name": name,
        "kind": kind,
        "condition": condition,
        "actions": actions,
        "description": description,
        "once_policy": once_policy,
        "cooldown_days": cooldown_days,
        "mode": mode,
        "event_type": event_type,
        "event_properties": event_properties,
        "first_event_only": first_event_only,
    }


BUILTIN_RULES: list[dict] = [
    # Automated Journey Triggers
    _rule(
        "journey-welcome",
        "Account created: welcome sequence",
        "lifecycle",
        {"all": [{"signal": "account_age_days", "op": "between", "value": [0, 7]}]},
        [_touch("email", "welcome-email")],
        description="Journey trigger “Account created” → welcome sequence, email, day 0.",
        once_policy="once_ever",
    ),
    _rule(
        "journey-no-login-7d",
        "No login after 7 days: re-engagement prompt",
        "lifecycle",
        {
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
        [_touch("email", "reengagement-email"), _touch("in_app", "reengagement-in-app")],
        description="Journey trigger “No login after 7 days” → re-engagement prompt, email "
        "and in-app, day 7. Fires again after a 30-day cooldown if the account "
        "lapses again.",
        once_policy="cooldown",
        cooldown_days=30,
    ),
    _rule(
        "journey-first-feature",
        "First feature activated: congratulations",
        "lifecycle",
        ALWAYS,
        [_touch("in_app", "first-feature-congrats")],
        description="Journey trigger “First feature activated” → congratulations and next "
        "steps, in-app, on the account's first feature_used event.",
        once_policy="once_ever",
        mode="event",
        event_type="feature_used",
        first_event_only=True,
    ),
    _rule(
        "journey-30-day-checkin",
        "30-day mark: check-in survey",
        "lifecycle",
        {"all": [{"signal": "account_age_days", "op": "between", "value": [30, 37]}]},
        [_touch("email", "checkin-survey")],
        description="Journey trigger “30-day mark” → check-in survey, email, day 30.",
        once_policy="once_ever",
    ),
    _rule(
        "journey-usage-drop",
        "Usage drops 50 %+: risk alert to the CSM pool",
        "risk",
        {"all": [{"signal": "usage_change_pct", "op": "<=", "value": -50}]},
        [_route("csm-pool", "high", 24), _touch("internal_alert", "risk-alert", "pool_assignee")],
        description="Journey trigger “Usage drops 50 %+” → risk alert to the CSM pool "
        "(internal). Evaluated whenever usage data has been recomputed.",
    ),
    _rule(
        "journey-renewal-60d",
        "60 days before renewal: renewal sequence",
        "renewal",
        {"all": [{"signal": "days_to_renewal", "op": "between", "value": [31, 60]}]},
        [_touch("email", "renewal-sequence", "executive_sponsor")],
        description="Journey trigger “60 days before renewal” → renewal sequence, email to "
        "the executive sponsor, day −60.",
        once_policy="once_per_renewal_cycle",
    ),
    # Human Touchpoints
    _rule(
        "human-expansion-call",
        "High health + expansion signal: outbound call",
        "expansion",
        {
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
        [_route("csm-pool", "normal", 72), _touch("call_task", "expansion-call", "pool_assignee")],
        description="Human touchpoint “High health score + expansion signal” → outbound "
        "call by the CSM pool.",
        once_policy="cooldown",
        cooldown_days=30,
    ),
    _rule(
        "human-risk-rescue",
        "Risk alert triggered: rescue outreach",
        "risk",
        {
            "any": [
                {"signal": "health_band", "op": "=", "value": "critical"},
                {"signal": "health_change_30d", "op": "<=", "value": -15},
            ]
        },
        [_route("csm-pool", "high", 24), _touch("call_task", "rescue-outreach", "pool_assignee")],
        description="Human touchpoint “Risk alert triggered” → rescue outreach by the CSM "
        "pool: the account is critical or lost 15+ points in 30 days.",
    ),
    _rule(
        "human-support-escalation",
        "Support escalation: warm transfer to a CSM",
        "risk",
        ALWAYS,
        [_route("csm-pool", "high", 4), _touch("internal_alert", "warm-transfer", "pool_assignee")],
        description="Human touchpoint “Support escalation” → warm transfer from support to "
        "a CSM, on a high or urgent support ticket.",
        mode="event",
        event_type="support_ticket",
        event_properties={"severity": ["high", "urgent"]},
    ),
    _rule(
        "human-renewal-no-response",
        "Renewal within 30 days, no response: direct outreach",
        "renewal",
        {
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
        [
            _route("renewal-specialists", "high", 48),
            _touch("call_task", "renewal-direct-outreach", "pool_assignee"),
        ],
        description="Human touchpoint “Renewal within 30 days + no response” → direct "
        "outreach by a renewal specialist: the sponsor has not been in touch for "
        "30 days.",
        once_policy="once_per_renewal_cycle",
    ),
    # Upgrade triggers (self-serve quick start)
    _rule(
        "upgrade-quota-80",
        "Usage at 80 % of quota: upgrade prompt",
        "expansion",
        {
            "all": [
                {"signal": "quota_used_pct", "op": ">=", "value": 80},
                {"signal": "quota_used_pct", "op": "<", "value": 100},
            ]
        },
        [_touch("in_app", "usage-limit-80")],
        description="Upgrade trigger “Usage limit”: the customer is at 80 % of the included quota.",
        once_policy="once_per_renewal_cycle",
    ),
    _rule(
        "upgrade-quota-100",
        "Usage at 100 % of quota: upgrade prompt",
        "expansion",
        {"all": [{"signal": "quota_used_pct", "op": ">=", "value": 100}]},
        [_touch("in_app", "usage-limit-100"), _touch("email", "usage-limit-100-email")],
        description="Upgrade trigger “Usage limit”: the customer has used 100 % of the "
        "included quota.",
        once_policy="once_per_renewal_cycle",
    ),
    _rule(
        "upgrade-feature-gate",
        "Feature-gate hit: premium feature prompt",
        "expansion",
        ALWAYS,
        [_touch("in_app", "feature-gate-upsell")],
        description="Upgrade trigger “Feature gate”: the customer clicked a premium feature.",
        once_policy="cooldown",
        cooldown_days=7,
        mode="event",
        event_type="feature_gate_hit",
    ),
    _rule(
        "upgrade-trial-3d",
        "Trial ending in 3 days",
        "expansion",
        {"all": [{"signal": "trial_days_left", "op": "between", "value": [2, 3]}]},
        [_touch("email", "trial-ending-3d")],
        description="Upgrade trigger “Trial ending”: 3 days before the trial expires.",
        once_policy="once_ever",
    ),
    _rule(
        "upgrade-trial-1d",
        "Trial ending tomorrow",
        "expansion",
        {"all": [{"signal": "trial_days_left", "op": "=", "value": 1}]},
        [_touch("email", "trial-ending-1d")],
        description="Upgrade trigger “Trial ending”: 1 day before the trial expires.",
        once_policy="once_ever",
    ),
    _rule(
        "upgrade-trial-today",
        "Trial ends today",
        "expansion",
        {"all": [{"signal": "trial_days_left", "op": "=", "value": 0}]},
        [_touch("email", "trial-ending-today")],
        description="Upgrade trigger “Trial ending”: the day the trial expires.",
        once_policy="once_ever",
    ),
    _rule(
        "upgrade-team-growth",
        "Team growth: team plan prompt",
        "expansion",
        ALWAYS,
        [_touch("in_app", "team-growth-upgrade")],
        description="Upgrade trigger “Team growth”: the customer added seats (invited more "
        "teammates).",
        once_policy="cooldown",
        cooldown_days=30,
        mode="event",
        event_type="seat_added",
    ),
]
