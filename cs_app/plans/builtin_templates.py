"""The plan templates that ship with cs_app, from the seed guide's templates and examples.

Dates are day offsets from the account's contract start. Owners are left out: a plan made
from a template gives every row to the plan owner, who hands each to the right named person.
The migration that installs them (``install built-in plan templates``) holds its own copy,
so a change here reaches existing databases only through a new data migration.
"""

ENTERPRISE_HIGH_TOUCH = {
    "key": "enterprise-high-touch",
    "name": "Enterprise high-touch plan",
    "plan_type": "high-touch",
    "review_cadence": "monthly",
    "description": (
        "For enterprise accounts ($50,000+ ACV) with a dedicated CSM: customised onboarding, "
        "stakeholder mapping, quarterly executive business reviews. Reviews: weekly CSM/champion "
        "sync (30 min), monthly stakeholder progress review (60 min), quarterly executive "
        "business review (90 min)."
    ),
    "content": {
        "outcomes": [
            {
                "title": "Increase user adoption",
                "metric": "Active users / licensed seats",
                "unit": "%",
                "baseline": 40,
                "target": 75,
                "target_offset_days": 270,
            },
            {
                "title": "Reduce average ticket resolution time",
                "metric": "Average resolution time",
                "unit": "h",
                "baseline": 18,
                "target": 8,
                "target_offset_days": 180,
            },
            {
                "title": "Cut support ticket volume through self-service deflection",
                "metric": "Tickets per month",
                "unit": "tickets",
                "baseline": 1000,
                "target": 700,
                "target_offset_days": 180,
            },
        ],
        "milestones": [
            {
                "phase": "implementation",
                "title": "Technical setup complete",
                "target_offset_days": 30,
                "success_criteria": "Integrations live, SSO configured, data migrated.",
            },
            {
                "phase": "implementation",
                "title": "Admin training delivered",
                "target_offset_days": 45,
                "success_criteria": "All admins trained and certified.",
            },
            {
                "phase": "adoption",
                "title": "50% user activation",
                "target_offset_days": 90,
                "success_criteria": "Half of licensed users active weekly.",
            },
            {
                "phase": "adoption",
                "title": "First workflow deployed",
                "target_offset_days": 75,
                "success_criteria": "First production workflow running for a real team.",
            },
            {
                "phase": "value",
                "title": "Initial ROI documented",
                "target_offset_days": 150,
                "success_criteria": "ROI summary agreed with the executive sponsor.",
            },
            {
                "phase": "expansion",
                "title": "Expansion use case identified",
                "target_offset_days": 180,
                "success_criteria": "A second team or use case named with an owner.",
            },
        ],
        "risks": [
            {
                "title": "Single-threaded champion",
                "category": "single_threaded_champion",
                "likelihood": "medium",
                "impact": "high",
                "mitigation": "Build relationships with a second contact in each team.",
            },
            {
                "title": "Competing internal priorities",
                "category": "competing_priorities",
                "likelihood": "medium",
                "impact": "medium",
                "mitigation": "Tie milestones to the sponsor's strategic priorities.",
            },
            {
                "title": "Integration complexity",
                "category": "integration_complexity",
                "likelihood": "medium",
                "impact": "medium",
                "mitigation": "Technical scoping call with the customer's admin in week 1.",
            },
        ],
        "actions": [
            {
                "title": "Hold the discovery call and capture the business context",
                "due_offset_days": 7,
            },
            {
                "title": (
                    "Confirm the executive sponsor and book the first quarterly business review"
                ),
                "due_offset_days": 14,
                "milestone": "Technical setup complete",
            },
            {"title": "Set up the weekly CSM/champion sync", "due_offset_days": 7},
        ],
        "review_meetings": [
            "Weekly: CSM/Champion sync (30 min)",
            "Monthly: Stakeholder progress review (60 min)",
            "Quarterly: Executive business review (90 min)",
        ],
    },
}

SCALED_LOW_TOUCH = {
    "key": "scaled-low-touch",
    "name": "Scaled low-touch plan",
    "plan_type": "low-touch",
    "review_cadence": "quarterly",
    "description": (
        "For high-volume SMB and mid-market segments: self-service plus triggered touchpoints "
        "from a pooled CSM team when a signal fires."
    ),
    "content": {
        "outcomes": [
            {
                "title": "Primary goal reached",
                "metric": "Weekly active users",
                "unit": "users",
                "baseline": 0,
                "target": 10,
                "target_offset_days": 90,
            },
        ],
        "milestones": [
            {
                "phase": "onboarding",
                "title": "Welcome sequence sent",
                "target_offset_days": 0,
                "success_criteria": "Welcome email delivered.",
            },
            {
                "phase": "onboarding",
                "title": "First login",
                "target_offset_days": 7,
                "success_criteria": "At least one user signed in.",
            },
            {
                "phase": "adoption",
                "title": "First feature activated",
                "target_offset_days": 14,
                "success_criteria": "A core feature used for real work.",
            },
            {
                "phase": "adoption",
                "title": "30-day check-in survey answered",
                "target_offset_days": 30,
                "success_criteria": "Survey response received.",
            },
            {
                "phase": "renewal",
                "title": "Renewal sequence started",
                "target_offset_days": 305,
                "success_criteria": "Renewal sequence sent 60 days before renewal.",
            },
        ],
        "risks": [
            {
                "title": "Adoption stall after onboarding",
                "category": "adoption_stall",
                "likelihood": "medium",
                "impact": "medium",
                "mitigation": "Re-engagement prompt when nobody logs in for 7 days.",
            },
        ],
        "actions": [
            {"title": "Confirm the primary contact and their goal", "due_offset_days": 7},
        ],
        "journey_triggers": [
            {
                "trigger": "Account created",
                "action": "Welcome sequence",
                "channel": "Email",
                "timing": "Day 0",
            },
            {
                "trigger": "No login after 7 days",
                "action": "Re-engagement prompt",
                "channel": "Email + In-app",
                "timing": "Day 7",
            },
            {
                "trigger": "First feature activated",
                "action": "Congratulations + next steps",
                "channel": "In-app",
                "timing": "On event",
            },
            {
                "trigger": "30-day mark",
                "action": "Check-in survey",
                "channel": "Email",
                "timing": "Day 30",
            },
            {
                "trigger": "Usage drops 50%+",
                "action": "Risk alert to CSM pool",
                "channel": "Internal",
                "timing": "On event",
            },
            {
                "trigger": "60 days before renewal",
                "action": "Renewal sequence",
                "channel": "Email",
                "timing": "Day -60",
            },
        ],
        "human_touchpoints": [
            {
                "trigger": "High health score + expansion signal",
                "touchpoint": "Outbound call",
                "owner": "CSM Pool",
            },
            {
                "trigger": "Risk alert triggered",
                "touchpoint": "Rescue outreach",
                "owner": "CSM Pool",
            },
            {
                "trigger": "Support escalation",
                "touchpoint": "Warm transfer",
                "owner": "Support → CSM",
            },
            {
                "trigger": "Renewal within 30 days + no response",
                "touchpoint": "Direct outreach",
                "owner": "Renewal Specialist",
            },
        ],
        "self_service_resources": [
            {"resource": "Getting Started Guide", "purpose": "Initial setup and configuration"},
            {"resource": "Video Tutorial Library", "purpose": "Feature walkthroughs"},
            {"resource": "Knowledge Base", "purpose": "Troubleshooting and FAQs"},
            {"resource": "Community Forum", "purpose": "Peer support and best practices"},
        ],
    },
}

HYBRID_MID_MARKET = {
    "key": "hybrid-mid-market",
    "name": "Hybrid mid-market plan",
    "plan_type": "hybrid",
    "review_cadence": "quarterly",
    "description": (
        "Automated onboarding with CSM calls at the moments that matter: the 30-day check-in, "
        "the month-6 QBR and the renewal conversation."
    ),
    "content": {
        "outcomes": [
            {
                "title": "Reliable renewal forecasting",
                "metric": "Renewal forecast accuracy",
                "unit": "%",
                "baseline": 65,
                "target": 90,
                "target_offset_days": 270,
            },
        ],
        "milestones": [
            {
                "phase": "onboarding",
                "title": "Self-paced setup complete",
                "target_offset_days": 28,
                "success_criteria": "Weeks 1-4: setup done, email sequence completed.",
            },
            {
                "phase": "activation",
                "title": "30-day CSM check-in held",
                "target_offset_days": 30,
                "success_criteria": "Call held, adoption gaps noted.",
            },
            {
                "phase": "adoption",
                "title": "Core features adopted across teams",
                "target_offset_days": 180,
                "success_criteria": "Months 3-6: every service team active weekly.",
            },
            {
                "phase": "optimization",
                "title": "QBR and workflow refinement",
                "target_offset_days": 182,
                "success_criteria": "Month 6: QBR held, success documented.",
            },
            {
                "phase": "renewal",
                "title": "Renewal conversation and expansion assessment",
                "target_offset_days": 270,
                "success_criteria": "Month 9: renewal agreed.",
            },
        ],
        "risks": [
            {
                "title": "Adoption stalls between touchpoints",
                "category": "adoption_stall",
                "likelihood": "medium",
                "impact": "medium",
                "mitigation": "Usage monitoring with in-app tips and triggered resources.",
            },
            {
                "title": "Single-threaded champion",
                "category": "single_threaded_champion",
                "likelihood": "medium",
                "impact": "high",
                "mitigation": "Meet a lead from each service team at the 30-day check-in.",
            },
        ],
        "actions": [
            {
                "title": "Book the 30-day check-in call",
                "due_offset_days": 21,
                "milestone": "30-day CSM check-in held",
            },
        ],
    },
}

JOINT = {
    "key": "joint",
    "name": "Joint success plan",
    "plan_type": "joint",
    "review_cadence": "monthly",
    "description": (
        "Co-created with a strategic customer: both sides contribute goals, responsibilities "
        "and success criteria, mapped to the customer's own KPIs. Shareable read-only with the "
        "customer."
    ),
    "content": {
        "outcomes": [
            {
                "title": "Customer KPI mapped to our milestones",
                "metric": "Customer's own KPI (agree at kickoff)",
                "unit": None,
                "baseline": None,
                "target": None,
                "target_offset_days": 180,
            },
        ],
        "milestones": [
            {
                "phase": "implementation",
                "title": "Joint kickoff: success criteria signed off",
                "target_offset_days": 14,
                "success_criteria": "Both executive sponsors agree the plan.",
            },
            {
                "phase": "implementation",
                "title": "Customer KPIs mapped to vendor milestones",
                "target_offset_days": 30,
                "success_criteria": "Every milestone names the KPI it moves.",
            },
            {
                "phase": "value",
                "title": "Mid-point joint review",
                "target_offset_days": 90,
                "success_criteria": "Progress against KPIs reviewed together.",
            },
            {
                "phase": "value",
                "title": "Executive sign-off on value delivered",
                "target_offset_days": 180,
                "success_criteria": "Sponsor signs the value summary.",
            },
        ],
        "risks": [
            {
                "title": "Executive sponsor departure",
                "category": "executive_sponsor_departure",
                "likelihood": "low",
                "impact": "high",
                "mitigation": "Second executive contact named at kickoff.",
            },
            {
                "title": "Competing internal priorities",
                "category": "competing_priorities",
                "likelihood": "medium",
                "impact": "medium",
                "mitigation": "Monthly joint review keeps the plan on the sponsor's agenda.",
            },
        ],
        "actions": [
            {
                "title": "Agree the shared plan with the customer's executive sponsor",
                "due_offset_days": 14,
                "milestone": "Joint kickoff: success criteria signed off",
            },
        ],
    },
}

BUILTIN_TEMPLATES = (ENTERPRISE_HIGH_TOUCH, SCALED_LOW_TOUCH, HYBRID_MID_MARKET, JOINT)
