"""What each demo account did with the product over the last ``USAGE_DAYS`` days, as the
events and metric values the product would push: a ``UsageStory`` per account that matches its
narrative (healthy adopters, accounts sliding or gone dark, growing and expanding ones, churned
ones, new ones), and the data it produces.

Nothing here touches the database: ``history.py`` feeds this data through the ingestion
service day by day. Each account draws from a ``random.Random`` seeded on its external id, and
the stories are assigned over the whole portfolio at once, so what one account did does not
depend on what else is loaded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import cycle

from cs_app.demo.specs import GROWTHSTACK, TECHCORP, AccountSpec

HISTORY_DAYS = 90  # the health history that history.py replays from this data
USAGE_DAYS = HISTORY_DAYS + 30  # so the 30-day windows of the first snapshots are full
FEATURES = (
    "ticket_routing",
    "dashboards",
    "automations",
    "knowledge_base",
    "reports",
    "integrations",
    "sla_policies",
    "mobile_app",
)
GATED_FEATURES = ("advanced_analytics", "sandbox_environments", "api_access", "custom_roles")
LOGINS_PER_DAY = {"SMB": 0.6, "Mid-Market": 1.1, "Enterprise": 1.5}
USERS_PER_ACCOUNT = {"SMB": 6, "Mid-Market": 12, "Enterprise": 25}
QUOTA_TARGETS = (80.0, 100.0)  # the first two growing accounts: near and at their quota


@dataclass
class UsageStory:
    """How an account used the product over the last ``USAGE_DAYS`` days. Offsets are days
    relative to today (negative = past)."""

    kind: str
    start: int  # first day with usage (the contract start, at most USAGE_DAYS ago)
    pivot: int | None = None  # the day the story turns (slide, recovery, expansion)
    end: int | None = None  # the last day with any usage (dark, churned)
    quota_target: float | None = None
    upgrade_intent: bool = False

    def live(self, t: int) -> bool:
        return t >= self.start and (self.end is None or t <= self.end) and self.kind != "silent"

    def progress(self, t: int) -> float:
        """0 at the pivot, 1 today."""
        if self.pivot is None or t < self.pivot:
            return 0.0
        return (t - self.pivot) / -self.pivot if self.pivot < 0 else 1.0

    def intensity(self, t: int) -> float:
        """Usage relative to a healthy account of the same size."""
        if not self.live(t):
            return 0.0
        k = self.kind
        if k == "new":
            return min(1.0, 0.3 + 0.7 * (t - self.start) / 30)
        if k == "growing":
            return 0.85 + 0.45 * (t + USAGE_DAYS) / USAGE_DAYS
        if k == "expanding":
            return 0.9 if t < self.pivot else 1.25
        if k == "sliding":
            return max(0.1, 1.0 - 0.9 * self.progress(t))
        if k == "recovering":
            return 0.35 + 0.65 * self.progress(t)
        if k == "steady":
            return 0.6
        if k == "poor":
            return 0.3
        if k == "churned":
            return 0.1 + 0.45 * (self.end - t) / (self.end + USAGE_DAYS)
        if k == "growthstack":
            return 0.95 if t < self.pivot else 0.6
        return 1.0  # healthy, techcorp, dark (until it went dark)

    def breadth(self, t: int) -> int:
        """How many distinct features are in use."""
        k = self.kind
        if k == "sliding":  # usage contracts to the core features, then to one
            return 6 if t < self.pivot else 2 if self.progress(t) < 0.4 else 1
        if k == "recovering":
            return 2 + round(3 * self.progress(t))
        if k == "churned":
            return 2 if t < self.end - 30 else 1
        if k == "new":
            return min(4, 1 + (t - self.start) // 7)
        if k == "growthstack":
            return 5 if t < self.pivot else 3
        if k == "expanding":
            return 6 if t < self.pivot else 7
        return {"growing": 7, "healthy": 6, "techcorp": 5, "dark": 5, "steady": 2, "poor": 1}[k]

    def sentiment(self, t: int, rng: random.Random) -> str:
        k = self.kind
        if k in ("steady", "growthstack", "dark"):
            return "neutral"
        if k in ("poor", "churned"):
            return "negative"
        if k == "sliding":
            return "positive" if t < self.pivot + 8 else "negative"
        if k == "recovering":
            return "negative" if t < self.pivot + 10 else "positive"
        return "neutral" if rng.random() < 0.25 else "positive"

    def nps(self, t: int, rng: random.Random) -> int:
        k = self.kind
        if k in ("healthy", "growing", "expanding"):
            return rng.choice((9, 10, 10))
        if k in ("steady", "growthstack", "new"):
            return rng.choice((7, 8))
        if k in ("poor", "churned"):
            return rng.choice((2, 3, 4, 5))
        if k == "sliding":
            return 9 if t < self.pivot else rng.choice((3, 4, 5, 6))
        if k == "recovering":
            return 4 if t < self.pivot else 8
        if k == "techcorp":
            return 9 if t < -30 else 7
        return 7  # dark: a passive answer before it went quiet

    def pipeline_freshness(self, t: int, rng: random.Random) -> float:
        """Days since the pipeline data was last updated (Mid-Market's weighted measure)."""
        k = self.kind
        if k in ("healthy", "growing", "expanding"):
            return float(rng.choice((1, 1, 2)))
        if k == "new":
            return 3.0 if t - self.start < 14 else 2.0
        if k == "steady":
            return float(rng.randint(4, 6))
        if k == "poor":
            return float(rng.randint(10, 15))
        if k == "churned":
            return float(8 + round(6 * (t + USAGE_DAYS) / (self.end + USAGE_DAYS)))
        if k == "sliding":
            return float(2 + round(7 * self.progress(t)))
        if k == "recovering":
            return float(9 - round(7 * self.progress(t)))
        if k == "growthstack":
            return float(2 + round(4 * self.progress(t)))
        return 2.0  # dark: fresh until the account went quiet, then nothing arrives


def usage_stories(specs: list[AccountSpec], today: date) -> dict[str, UsageStory]:
    """Each account's story, from its lifecycle stage and how its plans went. Computed for
    the whole portfolio at once so the assignment does not depend on what is loaded."""
    stories: dict[str, UsageStory] = {}
    watch_kinds = cycle(("sliding", "steady", "sliding", "recovering", "steady"))
    poor_kinds = cycle(("dark", "poor", "dark", "sliding"))
    quota_targets = iter(QUOTA_TARGETS)
    for spec in specs:
        rng = random.Random(f"cs-app-demo-story:{spec.external_id}")
        start = max((spec.contract_start - today).days, -USAGE_DAYS)
        entered = (spec.stages[-1][1] - today).days
        if spec.external_id == TECHCORP:
            story = UsageStory("techcorp", start)
        elif spec.external_id == GROWTHSTACK:
            story = UsageStory("growthstack", start, pivot=-40)
        elif spec.stage == "churned":
            story = UsageStory("churned", start, end=entered - rng.randint(3, 12))
        elif spec.stage == "expansion":
            story = UsageStory("expanding", start, pivot=entered)
        elif spec.stage == "onboarding":
            story = UsageStory("silent" if spec.health == "poor" else "new", start)
        elif spec.health == "good":
            story = UsageStory("growing" if spec.stage == "optimization" else "healthy", start)
        else:
            kind = next(watch_kinds if spec.health == "watch" else poor_kinds)
            if kind in ("sliding", "recovering") and start > -75:
                kind = "steady" if spec.health == "watch" else "poor"
            story = UsageStory(kind, start)
            if kind in ("sliding", "recovering"):
                story.pivot = -rng.randint(28, 40)
            elif kind == "dark":
                story.end = max(-rng.randint(32, 45), start + 5)
        if story.kind == "growing":
            story.quota_target = next(quota_targets, None)
            story.upgrade_intent = story.quota_target == max(QUOTA_TARGETS)
        stories[spec.external_id] = story
    return stories


def _moment(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(rng.randint(7, 18), rng.randint(0, 59)), tzinfo=UTC)


def usage_data(
    spec: AccountSpec, story: UsageStory, now: datetime
) -> tuple[list[dict], list[dict]]:
    """The account's events and metric values, oldest first, none later than ``now``."""
    rng = random.Random(f"cs-app-demo-usage:{spec.external_id}")
    today = now.date()
    events: list[tuple[datetime, str, str | None, dict]] = []
    users = [
        f"user{n}@{spec.domain}"
        for n in range(1, min(spec.seats, USERS_PER_ACCOUNT[spec.segment]) + 1)
    ]
    features = list(FEATURES)
    rng.shuffle(features)

    def add(t: int, kind: str, properties: dict | None = None, user: str | None = None) -> None:
        events.append(
            (
                _moment(today + timedelta(days=t), rng),
                kind,
                user or rng.choice(users),
                properties or {},
            )
        )

    def count(rate: float) -> int:
        return int(rate) + (1 if rng.random() < rate - int(rate) else 0)

    for t in range(-USAGE_DAYS, 1):
        level = story.intensity(t)
        if level <= 0:
            continue
        weekday = (today + timedelta(days=t)).weekday() < 5
        factor = level * (1.0 if weekday else 0.2)
        active = users[: max(1, round(len(users) * min(1.0, level)))]
        for _ in range(count(LOGINS_PER_DAY[spec.segment] * factor)):
            add(t, "login", user=rng.choice(active))
        if rng.random() < 0.55 * factor:
            add(
                t,
                "feature_used",
                {"feature": rng.choice(features[: story.breadth(t)])},
                user=rng.choice(active),
            )

    last = story.end if story.end is not None else 0
    ticket_days = []
    t = story.start + rng.randint(3, 15)
    while t <= last:
        ticket_days.append(t)
        t += rng.randint(18, 28)
    if story.kind == "sliding" and story.pivot + 12 <= -4:
        ticket_days.append(rng.randint(story.pivot + 12, -4))
    elif story.kind == "recovering":
        ticket_days.append(rng.randint(-8, -3))
    if story.kind == "techcorp":  # the cutover: archived chat transcripts went missing
        ticket_days = [-58, -40, -21]
    for t in sorted(set(ticket_days)):
        if not story.live(t):
            continue
        sentiment = story.sentiment(t, rng)
        add(
            t,
            "support_ticket",
            {
                "sentiment": sentiment,
                "severity": "high" if sentiment == "negative" else "normal",
                "status": "open" if t >= -10 else "solved",
            },
        )
    if story.kind == "techcorp":
        for t in (-9, -4):
            add(
                t,
                "support_ticket",
                {
                    "sentiment": "negative",
                    "severity": "urgent",
                    "status": "open",
                    "subject": "Chat transcripts missing after migration",
                },
            )
    signed = (spec.contract_start - today).days
    for wave in (-75 + rng.randint(-4, 4), -12 + rng.randint(-3, 3)):  # quarterly surveys
        if story.live(wave) and wave - signed >= 30:  # customers for a month at least
            add(wave, "nps_response", {"score": story.nps(wave, rng)})
    if story.kind in ("growing", "expanding"):
        seat_days = (
            [story.pivot, story.pivot + 7]
            if story.kind == "expanding"
            else [-24 + rng.randint(0, 4), -9 + rng.randint(0, 4)]
        )
        for t in seat_days:
            size = max(2, round(spec.seats * rng.uniform(0.04, 0.12)))
            add(min(t, 0), "seat_added", {"count": size})
        for _ in range(rng.randint(2, 5)):
            add(-rng.randint(0, 5), "feature_gate_hit", {"feature": rng.choice(GATED_FEATURES)})
    if story.upgrade_intent:
        add(-3, "upgrade_viewed", {"to_plan": "Business"})
        add(-2, "upgrade_started", {"to_plan": "Business"})

    events.sort(key=lambda e: e[0])
    items = [
        {
            "id": f"demo-{spec.external_id}-{n}",
            "account": spec.external_id,
            "type": kind,
            "at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "user": user,
            "properties": properties,
        }
        for n, (moment, kind, user, properties) in enumerate(events, start=1)
        if moment <= now
    ]

    metrics: list[dict] = []
    for t in range(-USAGE_DAYS, 1):
        if not story.live(t):
            continue
        day = today + timedelta(days=t)
        if t % 7 == 0:
            used = spec.seats * min(1.1, max(0.05, 0.15 + 0.75 * story.intensity(t)))
            metrics.append(
                {
                    "account": spec.external_id,
                    "key": "seats_used",
                    "value": round(used),
                    "date": day,
                }
            )
            if story.quota_target is not None:
                share = 0.6 + 0.4 * (t + USAGE_DAYS) / USAGE_DAYS
                metrics.append(
                    {
                        "account": spec.external_id,
                        "key": "quota_used_pct",
                        "value": round(story.quota_target * share, 1),
                        "date": day,
                    }
                )
        if spec.segment == "Mid-Market" and t % 2 == 0:
            metrics.append(
                {
                    "account": spec.external_id,
                    "key": "pipeline_freshness_days",
                    "value": story.pipeline_freshness(t, rng),
                    "date": day,
                }
            )
    return items, metrics
