"""Every scheduled job, declared once: its name, the function it runs and when.

``cs_app.jobs.leader`` schedules them (on the process that holds the leader lease only) and
``cs_app.jobs.runner`` runs one by name for the scheduler, the CLI and the jobs page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LEASE_NAME = "scheduler"


@dataclass(frozen=True)
class Job:
    name: str
    target: str  # "module:function", called with now=
    trigger: str  # "cron" or "interval"
    trigger_args: dict = field(default_factory=dict)
    description: str = ""


JOBS: tuple[Job, ...] = (
    Job(
        "recompute-health",
        "cs_app.health.jobs:recompute_health",
        "cron",
        {"hour": 2, "minute": 0},
        "Compute every account's signals and health score; one snapshot per account per day.",
    ),
    Job(
        "recompute-pending-health",
        "cs_app.health.jobs:recompute_pending_health",
        "interval",
        {"minutes": 5},
        "Recompute the accounts whose usage data arrived since the last run.",
    ),
    Job(
        "evaluate-rules",
        "cs_app.triggers.rules.jobs:evaluate_rules",
        "interval",
        {"minutes": 15},
        "Evaluate every enabled scheduled rule over all accounts; route and schedule touchpoints.",
    ),
    Job(
        "deliver-touchpoints",
        "cs_app.triggers.touchpoints.jobs:deliver_touchpoints",
        "interval",
        {"minutes": 1},
        "Send due touchpoints (email, in-app webhook, internal alerts), retrying "
        "failures with backoff.",
    ),
    Job(
        "check-slas",
        "cs_app.triggers.pools.jobs:check_slas",
        "interval",
        {"minutes": 10},
        "Assign waiting items to members with room; flag items past their SLA, alert the lead.",
    ),
    Job(
        "remind-reviews",
        "cs_app.plans.jobs:remind_reviews",
        "cron",
        {"hour": 7, "minute": 0},
        "Remind plan owners of plan reviews that are due or overdue.",
    ),
)


def job_by_name(name: str) -> Job:
    for job in JOBS:
        if job.name == name:
            return job
    known = ", ".join(j.name for j in JOBS)
    raise KeyError(f"no job is called {name!r}; known jobs: {known}")
