"""The shapes of the API's answers, as pydantic models.

They document the responses in ``/api/v1/openapi.json`` and the tests validate real answers
against them (unknown keys are refused, every key is required), so the serializers and the
published contract cannot drift apart. Serializers build plain dicts for speed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from cs_app.accounts.signal_catalog import BOOLEAN, CATEGORY, SIGNALS
from cs_app.api.schemas import (
    ActionStatus,
    ContactRole,
    ContactStatus,
    EngagementLevel,
    EngagementModel,
    HealthBand,
    InfluenceLevel,
    Level,
    LifecycleStage,
    MilestoneStatus,
    OutcomeStatus,
    OverrideBand,
    PlanStatus,
    PlanType,
    ReviewCadence,
    RiskCategory,
    RiskStatus,
    Segment,
    StakeholderRole,
)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(Out):
    code: str = Field(
        description="unauthorized, forbidden, not_found, conflict, "
        "validation_error, bad_request, ..."
    )
    message: str
    fields: dict[str, str] = Field(description="Per field (dotted path), what is wrong.")


class ErrorResponse(Out):
    error: ErrorBody


class UserRef(Out):
    user_email: str
    name: str


class ContactRef(Out):
    contact_id: int
    name: str


class AccountRef(Out):
    external_id: str
    name: str


class BusinessContextOut(Out):
    primary_use_case: str | None
    purchase_trigger: str | None
    previous_solutions: str | None
    strategic_priorities: str | None


# --- health ---------------------------------------------------------------------------------


class MeasureContributionOut(Out):
    key: str
    value: float | str | None = Field(
        description="The signal's value as scored (booleans as 0/1); null when there was none."
    )
    score: float | None = Field(description="0–100; null when the value was missing or stale.")
    weight: float
    points_lost: float | None = Field(
        description="Points of the composite score this measure cost."
    )
    stale: bool = Field(
        description="The value was older than the measure's freshness "
        "window and counted as missing."
    )
    missing: bool = Field(description="No usable value (none, or stale).")


class MeasureChangeOut(MeasureContributionOut):
    change_7d: float | None = Field(description="Score now minus 7 days ago.")
    change_30d: float | None = Field(description="Score now minus 30 days ago.")


class OverrideOut(Out):
    band: OverrideBand | None
    score: float | None
    reason: str
    expires_at: datetime
    created_by: str | None = Field(description="The email of who set it.")


class HealthOut(Out):
    """The account's latest health snapshot (SPEC §3)."""

    score: float | None = Field(
        description="0–100 (the override's when one is set); null without data."
    )
    band: HealthBand
    coverage: float = Field(description="Share (0–1) of the measures' weight that had data.")
    scorecard_version: int | None
    scorecard: str | None = Field(description="The scorecard's key.")
    computed_score: float | None = Field(description="The score before any override.")
    computed_band: HealthBand
    day: date = Field(description="The day of the snapshot.")
    measures: list[MeasureContributionOut]
    override: OverrideOut | None


class HealthDetailOut(HealthOut):
    measures: list[MeasureChangeOut]
    score_change_30d: float | None
    score_drop_alert: bool = Field(description="The score fell by 15 points or more in 30 days.")


def _signal_type(kind: str) -> Any:
    return {BOOLEAN: bool | None, CATEGORY: str | None}.get(kind, float | None)


SignalsOut = create_model(
    "SignalsOut",
    __base__=Out,
    __doc__="Every signal of the catalog as last computed.",
    **{
        key: (_signal_type(signal.kind), Field(description=signal.description))
        for key, signal in SIGNALS.items()
    },
)


class AccountOut(Out):
    external_id: str
    name: str
    domain: str | None
    industry: str | None
    employees: int | None
    segment: Segment
    engagement_model: EngagementModel
    arr: int = Field(description="Annual recurring revenue in minor units of currency.")
    currency: str
    contract_start: date | None
    renewal_date: date | None
    csm_email: str | None = Field(description="Null for a pooled account.")
    csm: UserRef | None
    lifecycle_stage: LifecycleStage
    stage_entered_on: date | None
    product_plan: str | None
    seats_purchased: int | None
    business_context: BusinessContextOut
    health: HealthOut | None = Field(
        description="The latest health snapshot; null while none has been computed for the account."
    )
    created_at: datetime
    updated_at: datetime


class AccountPage(Out):
    items: list[AccountOut]
    page: int
    per_page: int
    total: int


class ContactOut(Out):
    id: int
    name: str
    title: str | None
    email: str | None
    role: ContactRole
    influence: InfluenceLevel
    engagement: EngagementLevel
    last_contact_on: date | None
    status: ContactStatus


class StageEntryOut(Out):
    stage: LifecycleStage
    entered_on: date


class PlanSummaryOut(Out):
    id: int
    account: AccountRef
    title: str
    plan_type: PlanType
    status: PlanStatus
    owner: UserRef
    review_cadence: ReviewCadence
    last_reviewed_on: date | None
    next_review_on: date | None
    template_key: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class PlanList(Out):
    items: list[PlanSummaryOut]


class AccountDetailOut(AccountOut):
    health: HealthDetailOut | None = Field(
        description="The latest health snapshot with what "
        "changed; null while none has been "
        "computed."
    )
    signals: SignalsOut | None = Field(
        description="Null while signals have not been computed for the account."
    )
    signals_computed_at: datetime | None
    contacts: list[ContactOut]
    plans: list[PlanSummaryOut]
    stages: list[StageEntryOut] = Field(description="Lifecycle stages entered, oldest first.")


class MeasurementOut(Out):
    measured_on: date
    value: float


class OutcomeOut(Out):
    id: int
    version: int
    title: str
    metric: str
    unit: str | None
    baseline: float | None
    target: float | None
    current_value: float | None
    target_date: date | None
    status: OutcomeStatus
    progress: float | None = Field(
        description="0.0 to 1.0 from baseline to target (also when "
        "lower is better); null without the numbers."
    )
    lower_is_better: bool
    measurements: list[MeasurementOut]


class MilestoneOut(Out):
    id: int
    version: int
    phase: str
    title: str
    target_date: date | None
    success_criteria: str | None
    status: MilestoneStatus
    completed_on: date | None
    owner: UserRef | ContactRef
    overdue: bool


class StakeholderOut(Out):
    id: int
    version: int
    person: UserRef | ContactRef
    role: StakeholderRole
    notes: str | None
    influence: InfluenceLevel | None = Field(description="The contact's; null for users.")
    engagement: EngagementLevel | None
    last_contact_on: date | None
    contact_status: ContactStatus | None


class RiskOut(Out):
    id: int
    version: int
    title: str
    category: RiskCategory
    likelihood: Level
    impact: Level
    severity: Literal["low", "medium", "high", "critical"]
    mitigation: str | None
    status: RiskStatus
    owner: UserRef | ContactRef


class ActionOut(Out):
    id: int
    version: int
    title: str
    due_date: date
    status: ActionStatus
    milestone_id: int | None
    completed_on: date | None
    owner: UserRef | ContactRef
    overdue: bool


class ReviewOut(Out):
    id: int
    version: int
    held_on: date
    attendees: str
    notes: str | None
    recorded_by: UserRef | None


class FlagOut(Out):
    key: str = Field(
        description="review_overdue, overdue_actions, overdue_milestones, "
        "severe_risks, single_threaded, gone_dark, departed"
    )
    message: str


class PlanOut(PlanSummaryOut):
    summary: str | None
    review_overdue: bool
    updated_by: UserRef | None
    flags: list[FlagOut]
    outcomes: list[OutcomeOut]
    milestones: list[MilestoneOut]
    stakeholders: list[StakeholderOut]
    risks: list[RiskOut]
    actions: list[ActionOut]
    reviews: list[ReviewOut] = Field(description="Newest first.")


class HistoryEntryOut(Out):
    changed_at: datetime
    user_email: str | None
    component: str = Field(
        description="plan, profile, outcomes, milestones, stakeholders, risks, actions or reviews"
    )
    item_id: int | None
    item_label: str | None
    action: str = Field(description="created, updated, deleted, shared, unshared")
    field: str | None
    old_value: str | None
    new_value: str | None


class PlanHistory(Out):
    items: list[HistoryEntryOut] = Field(description="Newest first.")


COMPONENT_RESPONSES: dict[str, type[Out]] = {
    "outcomes": OutcomeOut,
    "milestones": MilestoneOut,
    "stakeholders": StakeholderOut,
    "risks": RiskOut,
    "actions": ActionOut,
    "reviews": ReviewOut,
}


# --- usage data -----------------------------------------------------------------------------


class ItemErrorOut(Out):
    index: int = Field(description="The item's position in the list sent, from 0.")
    message: str


class BulkResultOut(Out):
    accepted: int = Field(description="Items stored (new events; new or changed values).")
    duplicates: int = Field(
        description="Items already stored (or repeated in the batch); harmless."
    )
    errors: list[ItemErrorOut] = Field(description="Refused items; the others were kept.")


# --- scorecards -----------------------------------------------------------------------------


class ScorecardMeasureOut(Out):
    key: str
    label: str
    signal: str
    weight: float
    higher_is_better: bool
    healthy: float | None
    critical: float | None
    categories: dict[str, OverrideBand] | None
    freshness_days: int | None


class ScorecardOut(Out):
    id: int
    key: str
    name: str
    segment: Segment | None
    active: bool
    version: int | None = Field(description="The current version's number.")
    healthy_min: float | None
    at_risk_min: float | None
    coverage_floor: float | None
    note: str | None
    measures: list[ScorecardMeasureOut]


class ScorecardList(Out):
    items: list[ScorecardOut]


class ScorecardVersionOut(Out):
    number: int
    created_at: datetime
    created_by: UserRef | None
    note: str | None


class ScorecardDetailOut(ScorecardOut):
    versions: list[ScorecardVersionOut] = Field(description="Newest first.")


class WhatIfBandOut(Out):
    band: HealthBand
    current: int
    proposed: int


class WhatIfOut(Out):
    bands: list[WhatIfBandOut]
    accounts: int = Field(description="Accounts the scorecard scores.")


class BacktestGroupOut(Out):
    accounts: int
    bands: dict[str, int] = Field(
        description="Accounts per band they would have had lead_days before; no_history when none."
    )


class BacktestGroupsOut(Out):
    churned: BacktestGroupOut
    expanded: BacktestGroupOut
    retained: BacktestGroupOut


class BacktestOut(Out):
    scorecard_version: int
    window_days: int
    lead_days: int
    groups: BacktestGroupsOut
    churn_caught: float | None = Field(
        description="Share of churned accounts that were at risk or critical."
    )
    false_alarms: float | None = Field(description="Share of retained accounts flagged anyway.")
    expansion_healthy: float | None = Field(
        description="Share of expanded accounts that were healthy."
    )
    signals_without_history: list[str]
