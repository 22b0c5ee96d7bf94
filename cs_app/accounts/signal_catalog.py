"""The signals every account has: name, kind and meaning. Pure data.

Scorecards and trigger rules may only read these (plus ``metric.<key>`` for any pushed metric),
so this catalog is what their validation checks against.
"""

from __future__ import annotations

from dataclasses import dataclass

NUMBER, CATEGORY, BOOLEAN = "number", "category", "boolean"


@dataclass(frozen=True)
class Signal:
    key: str
    kind: str
    label: str
    description: str
    categories: tuple[str, ...] = ()
    observed_column: str | None = None  # the column dating the value, for freshness


SIGNALS: dict[str, Signal] = {
    s.key: s
    for s in (
        Signal(
            "days_since_last_login",
            NUMBER,
            "Days since last login",
            "Days since any user of the account last logged in.",
        ),
        Signal("logins_7d", NUMBER, "Logins (7 days)", "Login events in the last 7 days."),
        Signal("logins_30d", NUMBER, "Logins (30 days)", "Login events in the last 30 days."),
        Signal(
            "active_users_30d",
            NUMBER,
            "Active users (30 days)",
            "Distinct users with any event in the last 30 days.",
        ),
        Signal(
            "features_used_30d",
            NUMBER,
            "Features used (30 days)",
            "Distinct features used in the last 30 days.",
        ),
        Signal(
            "usage_30d",
            NUMBER,
            "Usage (30 days)",
            "Login and feature-use events in the last 30 days.",
        ),
        Signal(
            "usage_change_pct",
            NUMBER,
            "Usage change %",
            "Usage in the last 30 days against the 30 days before, in percent.",
        ),
        Signal(
            "quota_used_pct", NUMBER, "Quota used %", "Latest value of the quota_used_pct metric."
        ),
        Signal("seats_purchased", NUMBER, "Seats purchased", "Seats on the contract."),
        Signal(
            "seats_used",
            NUMBER,
            "Seats used",
            "Latest seats_used metric, else active users in 30 days.",
        ),
        Signal(
            "seat_utilization_pct",
            NUMBER,
            "Seat utilisation %",
            "Seats used as a percentage of seats purchased.",
        ),
        Signal(
            "seats_added_30d",
            NUMBER,
            "Seats added (30 days)",
            "Seats added in the last 30 days (seat_added events).",
        ),
        Signal(
            "open_tickets",
            NUMBER,
            "Open support tickets",
            "Latest open_tickets metric, else tickets of the last 30 days not closed.",
        ),
        Signal(
            "support_sentiment",
            CATEGORY,
            "Support sentiment",
            "Sentiment of the most recent support ticket that had one.",
            ("positive", "neutral", "negative"),
            "support_sentiment_on",
        ),
        Signal(
            "last_nps",
            NUMBER,
            "Last NPS",
            "Score (0–10) of the latest NPS response.",
            observed_column="last_nps_on",
        ),
        Signal(
            "nps_category",
            CATEGORY,
            "NPS category",
            "Promoter (9–10), passive (7–8) or detractor (0–6) by the latest response.",
            ("promoter", "passive", "detractor"),
            "last_nps_on",
        ),
        Signal("health_score", NUMBER, "Health score", "The latest health score (0–100)."),
        Signal(
            "health_band",
            CATEGORY,
            "Health band",
            "The latest health band.",
            ("healthy", "at_risk", "critical", "insufficient_data"),
        ),
        Signal(
            "health_change_30d",
            NUMBER,
            "Health change (30 days)",
            "Latest health score minus the score 30 days before.",
        ),
        Signal("days_to_renewal", NUMBER, "Days to renewal", "Days until the renewal date."),
        Signal("account_age_days", NUMBER, "Account age (days)", "Days since the contract start."),
        Signal(
            "trial_days_left",
            NUMBER,
            "Trial days left",
            "Days until the trial ends (0 on the last day, negative after).",
        ),
        Signal(
            "lifecycle_stage",
            CATEGORY,
            "Lifecycle stage",
            "The account's lifecycle stage.",
            (
                "onboarding",
                "activation",
                "adoption",
                "optimization",
                "renewal",
                "expansion",
                "churned",
            ),
        ),
        Signal(
            "segment",
            CATEGORY,
            "Segment",
            "SMB, Mid-Market or Enterprise.",
            ("SMB", "Mid-Market", "Enterprise"),
        ),
        Signal("arr", NUMBER, "ARR (minor units)", "Annual recurring revenue in minor units."),
        Signal(
            "open_high_risks",
            NUMBER,
            "Open high risks",
            "Open or mitigating risks of high or critical severity on active plans.",
        ),
        Signal("overdue_actions", NUMBER, "Overdue actions", "Actions past due on active plans."),
        Signal(
            "overdue_milestones",
            NUMBER,
            "Overdue milestones",
            "Milestones past their target date on active plans.",
        ),
        Signal(
            "days_since_sponsor_contact",
            NUMBER,
            "Days since sponsor contact",
            "Days since the last contact with an active executive sponsor.",
        ),
        Signal(
            "champion_departed",
            BOOLEAN,
            "Champion departed",
            "A champion has left and no active champion is named.",
        ),
        Signal(
            "plan_review_overdue",
            BOOLEAN,
            "Plan review overdue",
            "An active plan is past its next review date.",
        ),
        Signal(
            "feature_gate_hits_7d",
            NUMBER,
            "Feature-gate hits (7 days)",
            "Times users hit a feature their plan does not include, in 7 days.",
        ),
        Signal(
            "upgrade_intent_open",
            BOOLEAN,
            "Upgrade intent open",
            "An upgrade was viewed or started in the last 30 days and not completed since.",
        ),
    )
}

METRIC_PREFIX = "metric."


def signal_kind(key: str) -> str | None:
    """The kind of a signal key, ``number`` for any ``metric.<key>``; None if unknown."""
    if key.startswith(METRIC_PREFIX) and len(key) > len(METRIC_PREFIX):
        return NUMBER
    signal = SIGNALS.get(key)
    return signal.kind if signal else None
