"""The shapes of the API's answers, as pydantic models.

They document the responses in ``/api/v1/openapi.json`` and the tests validate real answers
against them (unknown keys are refused, every key is required), so the serializers and the
published contract cannot drift apart. Serializers build plain dicts for speed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cs_app.api.schemas import (
    ActionStatus,
    ContactRole,
    ContactStatus,
    EngagementLevel,
    EngagementModel,
    InfluenceLevel,
    Level,
    LifecycleStage,
    MilestoneStatus,
    OutcomeStatus,
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
    code: str = Field(description="unauthorized, forbidden, not_found, conflict, "
                                  "validation_error, bad_request, ...")
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
    health: dict[str, Any] | None = Field(
        description="Null while no health score has been computed for the account; then "
                    "{score, band, coverage, scorecard_version, measures, override}."
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
    progress: float | None = Field(description="0.0 to 1.0 from baseline to target (also when "
                                               "lower is better); null without the numbers.")
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
    key: str = Field(description="review_overdue, overdue_actions, overdue_milestones, "
                                 "severe_risks, single_threaded, gone_dark, departed")
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
    component: str = Field(description="plan, profile, outcomes, milestones, stakeholders, "
                                       "risks, actions or reviews")
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
