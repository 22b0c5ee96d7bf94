"""Request bodies and query strings of the JSON API, as pydantic models.

Bodies are validated strictly against JSON types and refuse unknown keys. PATCH bodies (and the
PUT of an account, which changes only the keys it is given) use ``optional()``: the key may be
left out, but when it is sent it must hold a value of the field's type, so ``"title": null``
is refused rather than silently clearing a required column. Fields typed ``X | None`` accept
``null`` to clear a value. The same models give the JSON Schemas of ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, WithJsonSchema
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from cs_app.accounts.ingest import MAX_BATCH
from cs_app.accounts.models import (
    CONTACT_ROLES,
    CONTACT_STATUSES,
    ENGAGEMENT_LEVELS,
    ENGAGEMENT_MODELS,
    INFLUENCE_LEVELS,
    LIFECYCLE_STAGES,
    SEGMENTS,
)
from cs_app.health.scoring import BANDS
from cs_app.json_limits import MAX_FLOAT, MAX_INT, MAX_JSON_DEPTH, MIN_INT
from cs_app.plans.models import (
    ACTION_STATUSES,
    LEVELS,
    MILESTONE_STATUSES,
    OUTCOME_STATUSES,
    PLAN_STATUSES,
    PLAN_TYPES,
    REVIEW_CADENCES,
    RISK_CATEGORIES,
    RISK_STATUSES,
    STAKEHOLDER_ROLES,
)
from cs_app.plans.service import COMPONENTS, OWNER_REFUSAL
from cs_app.request_args import MAX_ID, MAX_PAGE

PERSON_SHAPE = (
    'Send {"contact_id": N} for a contact of the account or {"user_email": "..."} '
    "for one of our users."
)

Segment = Literal[SEGMENTS]
EngagementModel = Literal[ENGAGEMENT_MODELS]
LifecycleStage = Literal[LIFECYCLE_STAGES]
HealthBand = Literal[BANDS]
ContactRole = Literal[tuple(CONTACT_ROLES)]
InfluenceLevel = Literal[tuple(INFLUENCE_LEVELS)]
EngagementLevel = Literal[tuple(ENGAGEMENT_LEVELS)]
ContactStatus = Literal[tuple(CONTACT_STATUSES)]
PlanType = Literal[tuple(PLAN_TYPES)]
PlanStatus = Literal[tuple(PLAN_STATUSES)]
ReviewCadence = Literal[tuple(REVIEW_CADENCES)]
OutcomeStatus = Literal[tuple(OUTCOME_STATUSES)]
MilestoneStatus = Literal[tuple(MILESTONE_STATUSES)]
RiskCategory = Literal[tuple(RISK_CATEGORIES)]
Level = Literal[tuple(LEVELS)]
RiskStatus = Literal[tuple(RISK_STATUSES)]
ActionStatus = Literal[tuple(ACTION_STATUSES)]
StakeholderRole = Literal[tuple(STAKEHOLDER_ROLES)]


def _whole_number(value: Any) -> Any:
    """``5.0`` is the whole number 5, as JSON Schema's ``integer`` says; ``5.5`` stays a float
    and is refused."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_INT:
        return int(value)
    return value


# A JSON integer: what the document calls ``integer`` (5 or 5.0). Body fields use it, not int.
Whole = Annotated[int, BeforeValidator(_whole_number)]
# A JSON number: floats and whole numbers (strict mode takes an int for a float).
Number = float
# An id the database can hold (``cs_app.request_args.database_id``).
DatabaseId = Annotated[Whole, Field(ge=1, le=MAX_ID)]
NO_NUL = r"^[^\x00]*$"
JSON_VALUE = "JsonValue"


BOUND_NAMES = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


class DocumentSchema(GenerateJsonSchema):
    """The models' JSON Schemas with the limits ``parse_body`` applies to every body
    (``cs_app.json_limits``) written out: whole numbers within 64 bits, numbers within 1e308,
    no NUL character in text or keys, and free-form values (``Any``) as ``JsonValue``."""

    def generate_inner(self, schema: Any) -> JsonSchemaValue:
        result = super().generate_inner(schema)
        # Bounds on ``Whole`` sit behind its before-validator, where pydantic writes them
        # with their Python names; JSON Schema names them so.
        for python_name, json_name in BOUND_NAMES.items():
            if python_name in result:
                result[json_name] = result.pop(python_name)
        return result

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        result = super().int_schema(schema)
        if self.mode == "validation":
            result.setdefault("minimum", MIN_INT)
            result.setdefault("maximum", MAX_INT)
        return result

    def float_schema(self, schema: core_schema.FloatSchema) -> JsonSchemaValue:
        result = super().float_schema(schema)
        if self.mode == "validation":
            result.setdefault("minimum", -MAX_FLOAT)
            result.setdefault("maximum", MAX_FLOAT)
        return result

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        result = super().str_schema(schema)
        if self.mode == "validation":
            result.setdefault("pattern", NO_NUL)
        return result

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        result = super().dict_schema(schema)
        if self.mode == "validation":
            result.setdefault("propertyNames", {"pattern": NO_NUL})
        return result

    def any_schema(self, schema: core_schema.AnySchema) -> JsonSchemaValue:
        if self.mode == "validation":
            return {"$ref": f"#/components/schemas/{JSON_VALUE}"}
        return super().any_schema(schema)


# Any JSON value a body may carry in a free-form field (rule conditions, event properties).
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": f"Any JSON value nested at most {MAX_JSON_DEPTH} levels deep, without NUL "
    "characters, whole numbers within 64 bits and numbers within 1e308.",
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "integer", "minimum": MIN_INT, "maximum": MAX_INT},
        {"type": "number", "minimum": -MAX_FLOAT, "maximum": MAX_FLOAT},
        {"type": "string", "pattern": NO_NUL},
        {"type": "array", "items": {"$ref": f"#/components/schemas/{JSON_VALUE}"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": f"#/components/schemas/{JSON_VALUE}"},
        },
    ],
}


def _absent() -> None:
    return None


def optional(**constraints: Any) -> Any:
    """A key that may be left out but is never ``null`` when given.

    A ``default_factory`` rather than ``default=None`` keeps a misleading ``"default": null``
    out of the JSON Schema; handlers read ``model_dump(exclude_unset=True)``, so the factory's
    value is never used.
    """
    return Field(default_factory=_absent, **constraints)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    # Messages for required keys that are missing, by key; pydantic's "Field required" else.
    missing_messages: ClassVar[dict[str, str]] = {}
    # A bulk body checks what each item holds on its own (cs_app.accounts.ingest), so that one
    # bad item is refused alone; every other body is refused whole (``parse_body``).
    items_checked_one_by_one: ClassVar[bool] = False

    def values(self) -> dict[str, Any]:
        """The keys the caller sent, as plain Python values (dates stay ``date``)."""
        return self.model_dump(exclude_unset=True)


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- people ---------------------------------------------------------------------------------


def _owner_reference(value: Any) -> Any:
    if not isinstance(value, dict):
        raise PydanticCustomError("not_a_person", f"{OWNER_REFUSAL} {PERSON_SHAPE}")
    if len(value) != 1 or not set(value) <= {"contact_id", "user_email"}:
        raise PydanticCustomError("not_a_person", f"Name exactly one person. {PERSON_SHAPE}")
    contact_id, user_email = _whole_number(value.get("contact_id")), value.get("user_email")
    if "contact_id" in value and (not isinstance(contact_id, int) or isinstance(contact_id, bool)):
        raise PydanticCustomError("not_a_person", "contact_id must be a contact's numeric id.")
    if "user_email" in value and not isinstance(user_email, str):
        raise PydanticCustomError("not_a_person", "user_email must be a user's email address.")
    return value


class ContactIdRef(Body):
    """A contact of the plan's account, by id."""

    contact_id: DatabaseId


class UserEmailRef(Body):
    """An active internal user, by email."""

    user_email: str = Field(max_length=255)


class PersonRef(RootModel[ContactIdRef | UserEmailRef]):
    """A named individual: exactly one of ``contact_id`` (a contact of the plan's account) or
    ``user_email`` (an active internal user)."""


# The before-validator words the refusals; the union is what is accepted and documented.
PersonInput = Annotated[PersonRef, BeforeValidator(_owner_reference)]


# --- accounts -------------------------------------------------------------------------------


class BusinessContext(Body):
    primary_use_case: str | None = None
    purchase_trigger: str | None = None
    previous_solutions: str | None = None
    strategic_priorities: str | None = None


class AccountWrite(Body):
    """Create or update an account: only the keys sent change; ``name`` is needed to create."""

    external_id: str = optional(max_length=100, description="Optional; must equal the path.")
    name: str = optional(max_length=200)
    domain: str | None = Field(default=None, max_length=200)
    industry: str | None = Field(default=None, max_length=100)
    employees: Whole | None = Field(default=None, ge=0, le=MAX_ID)
    segment: Segment = optional()
    engagement_model: EngagementModel = optional()
    arr: Whole = optional(ge=0, description="Annual recurring revenue in minor units (cents).")
    currency: str = optional(description="ISO 4217 code, e.g. USD.", min_length=3, max_length=3)
    contract_start: date | None = None
    renewal_date: date | None = None
    csm_email: str | None = Field(
        default=None,
        max_length=255,
        description="The owning CSM's email; null for a pooled account.",
    )
    lifecycle_stage: LifecycleStage = optional()
    stage_entered_on: date | None = Field(
        default=None, description="When a new lifecycle_stage was entered (default: today)."
    )
    product_plan: str | None = Field(default=None, max_length=100)
    seats_purchased: Whole | None = Field(default=None, ge=0, le=MAX_ID)
    business_context: BusinessContext | None = None


class AccountListQuery(Query):
    segment: Segment | None = None
    csm: str | None = Field(
        default=None, description="The CSM's email, or 'none' for pooled accounts."
    )
    stage: LifecycleStage | None = None
    engagement_model: EngagementModel | None = None
    q: str | None = Field(
        default=None, max_length=200, description="Part of the name or external ID."
    )
    band: HealthBand | None = Field(
        default=None,
        description="The band of the account's latest health "
        "snapshot. Accounts never scored have no band "
        "and match no band, not even "
        "insufficient_data.",
    )
    page: Whole = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: Whole = Field(default=50, ge=1, le=200)


class ContactCreate(Body):
    name: str = Field(max_length=200)
    title: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=255)
    role: ContactRole = "end_user"
    influence: InfluenceLevel = "user"
    engagement: EngagementLevel = "medium"
    last_contact_on: date | None = None
    status: ContactStatus = "active"

    missing_messages: ClassVar[dict[str, str]] = {"name": "Give the contact's name."}


class ContactUpdate(Body):
    name: str = optional(max_length=200)
    title: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=255)
    role: ContactRole = optional()
    influence: InfluenceLevel = optional()
    engagement: EngagementLevel = optional()
    last_contact_on: date | None = None
    status: ContactStatus = optional()


# --- plans ----------------------------------------------------------------------------------


class PlanCreate(Body):
    """A new plan; with ``template`` its type, cadence and title default from the template
    and it arrives with the template's milestones, outcomes, risks, actions and stakeholders."""

    template: str | None = Field(
        default=None, max_length=60, description="Template key, e.g. enterprise-high-touch."
    )
    title: str = optional(max_length=200)
    plan_type: PlanType = optional()
    status: PlanStatus = optional()
    owner_email: str = optional(
        max_length=255, description="Default: the account's CSM, else the caller."
    )
    review_cadence: ReviewCadence = optional()
    next_review_on: date | None = None
    summary: str | None = None


class PlanUpdate(Body):
    version: Whole = Field(description="The plan's version as read; a stale one answers 409.")
    title: str = optional(max_length=200)
    plan_type: PlanType = optional()
    status: PlanStatus = optional()
    owner_email: str = optional(max_length=255)
    review_cadence: ReviewCadence = optional()
    next_review_on: date | None = None
    summary: str | None = None

    missing_messages: ClassVar[dict[str, str]] = {
        "version": "Send the plan's version as you read it, so that a newer change is never "
        "overwritten.",
    }


def item_version() -> Any:
    return Field(
        default=None,
        description="The item's version as read; a stale one answers "
        "409. Leave it out to skip the check.",
    )


def _required(component: str, **extra: str) -> dict[str, str]:
    return {**COMPONENTS[component].required, **extra}


OWNER_MISSING = f"Name the owner. {PERSON_SHAPE}"


class OutcomeCreate(Body):
    title: str = Field(max_length=200)
    metric: str = Field(max_length=200)
    unit: str | None = Field(default=None, max_length=30)
    baseline: Number | None = None
    target: Number | None = None
    current_value: Number | None = None
    target_date: date | None = None
    status: OutcomeStatus = "on_track"

    missing_messages: ClassVar[dict[str, str]] = _required("outcomes")


class OutcomeUpdate(Body):
    version: Whole | None = item_version()
    title: str = optional(max_length=200)
    metric: str = optional(max_length=200)
    unit: str | None = Field(default=None, max_length=30)
    baseline: Number | None = None
    target: Number | None = None
    current_value: Number | None = Field(
        default=None, description="Also recorded as today's measurement."
    )
    target_date: date | None = None
    status: OutcomeStatus = optional()


class MilestoneCreate(Body):
    phase: str = Field(
        max_length=60, description="implementation, adoption, value, expansion or a custom phase."
    )
    title: str = Field(max_length=200)
    target_date: date
    success_criteria: str | None = None
    owner: PersonInput
    status: MilestoneStatus = "planned"
    completed_on: date | None = None

    missing_messages: ClassVar[dict[str, str]] = _required("milestones", owner=OWNER_MISSING)


class MilestoneUpdate(Body):
    version: Whole | None = item_version()
    phase: str = optional(max_length=60)
    title: str = optional(max_length=200)
    target_date: date = optional()
    success_criteria: str | None = None
    owner: PersonInput = optional()
    status: MilestoneStatus = optional()
    completed_on: date | None = None


class StakeholderCreate(Body):
    person: PersonInput
    role: StakeholderRole
    notes: str | None = None
    influence: InfluenceLevel | None = Field(
        default=None, description="Contacts only; updates the contact."
    )
    engagement: EngagementLevel | None = Field(
        default=None, description="Contacts only; updates the contact."
    )
    last_contact_on: date | None = Field(
        default=None, description="Contacts only; updates the contact."
    )

    missing_messages: ClassVar[dict[str, str]] = _required(
        "stakeholders", person=f"Name the person. {PERSON_SHAPE}"
    )


class StakeholderUpdate(Body):
    version: Whole | None = item_version()
    role: StakeholderRole = optional()
    notes: str | None = None
    influence: InfluenceLevel = optional()
    engagement: EngagementLevel = optional()
    last_contact_on: date = optional()


class RiskCreate(Body):
    title: str = Field(max_length=200)
    category: RiskCategory = "other"
    likelihood: Level = "medium"
    impact: Level = "medium"
    mitigation: str | None = None
    owner: PersonInput
    status: RiskStatus = "open"

    missing_messages: ClassVar[dict[str, str]] = _required("risks", owner=OWNER_MISSING)


class RiskUpdate(Body):
    version: Whole | None = item_version()
    title: str = optional(max_length=200)
    category: RiskCategory = optional()
    likelihood: Level = optional()
    impact: Level = optional()
    mitigation: str | None = None
    owner: PersonInput = optional()
    status: RiskStatus = optional()


class ActionCreate(Body):
    title: str = Field(max_length=300)
    owner: PersonInput
    due_date: date
    status: ActionStatus = "open"
    milestone_id: DatabaseId | None = None
    completed_on: date | None = None

    missing_messages: ClassVar[dict[str, str]] = _required("actions", owner=OWNER_MISSING)


class ActionUpdate(Body):
    version: Whole | None = item_version()
    title: str = optional(max_length=300)
    owner: PersonInput = optional()
    due_date: date = optional()
    status: ActionStatus = optional()
    milestone_id: DatabaseId | None = None
    completed_on: date | None = None


class ReviewCreate(Body):
    held_on: date
    attendees: str
    notes: str | None = None

    missing_messages: ClassVar[dict[str, str]] = _required("reviews")


class ReviewUpdate(Body):
    version: Whole | None = item_version()
    held_on: date = optional()
    attendees: str = optional()
    notes: str | None = None


COMPONENT_BODIES: dict[str, tuple[type[Body], type[Body]]] = {
    "outcomes": (OutcomeCreate, OutcomeUpdate),
    "milestones": (MilestoneCreate, MilestoneUpdate),
    "stakeholders": (StakeholderCreate, StakeholderUpdate),
    "risks": (RiskCreate, RiskUpdate),
    "actions": (ActionCreate, ActionUpdate),
    "reviews": (ReviewCreate, ReviewUpdate),
}


# --- usage data -----------------------------------------------------------------------------
# The items of a bulk body are checked one by one by ``cs_app.accounts.ingest`` so that a bad
# item is reported by its index while the good ones are stored; the models below check the
# envelope only and describe the items for the OpenAPI document.


class EventItem(Body):
    """One usage event. Known types with extra rules: ``feature_used`` and
    ``feature_gate_hit`` need ``properties.feature``; ``nps_response`` needs
    ``properties.score`` (0–10); ``support_ticket`` may carry ``properties.sentiment``
    (positive, neutral, negative) and ``properties.severity`` (low, normal, high, urgent);
    ``seat_added`` may carry ``properties.count``. Other types are stored as they come."""

    id: str = Field(
        max_length=120,
        description="Unique per event; sending the same id again "
        "counts as a duplicate, not an error.",
    )
    account: str = Field(max_length=100, description="The account's external_id.")
    type: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,59}$", description="e.g. login, feature_used.")
    at: str = Field(
        description="ISO 8601 time; without a zone it is taken as UTC.",
        json_schema_extra={"format": "date-time"},
    )
    user: str | None = Field(
        default=None, max_length=200, description="Who in the customer's team did it."
    )
    properties: dict[str, Any] | None = None


class MetricItem(Body):
    """One daily value of a metric; a later value for the same account, key and date
    replaces the earlier one (the same value again is a duplicate)."""

    account: str = Field(max_length=100, description="The account's external_id.")
    key: str = Field(
        pattern=r"^[a-z][a-z0-9_.:-]{0,79}$", description="e.g. seats_used, quota_used_pct."
    )
    value: Number
    date: date


def _batch_of(item: type[Body]) -> Any:
    return WithJsonSchema(
        {"type": "array", "maxItems": MAX_BATCH, "items": item.model_json_schema()}
    )


class EventBatch(Body):
    events: Annotated[list[Any], _batch_of(EventItem)] = Field(
        description=f"At most {MAX_BATCH} events; each is checked on its own."
    )
    items_checked_one_by_one: ClassVar[bool] = True

    missing_messages: ClassVar[dict[str, str]] = {
        "events": 'Send the events as {"events": [{"id", "account", "type", "at", ...}]}.',
    }


class MetricBatch(Body):
    metrics: Annotated[list[Any], _batch_of(MetricItem)] = Field(
        description=f"At most {MAX_BATCH} metric values; each is checked on its own."
    )
    items_checked_one_by_one: ClassVar[bool] = True

    missing_messages: ClassVar[dict[str, str]] = {
        "metrics": 'Send the values as {"metrics": [{"account", "key", "value", "date"}]}.',
    }


# --- health ---------------------------------------------------------------------------------
# Types are checked here; the rules (weights sum to 100, known signals, thresholds on the right
# side, categories) are the health service's, whose ValidationError fields use the same dotted
# paths (``weights``, ``measures.2.signal``).

OverrideBand = Literal["healthy", "at_risk", "critical"]


class MeasureWrite(Body):
    key: str = Field(
        max_length=60, description="Slug, unique in the scorecard, e.g. login_frequency."
    )
    label: str | None = Field(default=None, max_length=200)
    signal: str = Field(
        max_length=80, description="A signal of the catalog or metric.<metric key>."
    )
    weight: Number = Field(description="The weights of a scorecard add up to 100.")
    higher_is_better: bool = True
    healthy: Number | None = Field(
        default=None, description="Numeric signals: the score is 100 at or beyond this value."
    )
    critical: Number | None = Field(
        default=None, description="Numeric signals: the score is 0 at or beyond this value."
    )
    categories: dict[str, str] | None = Field(
        default=None, description="Categorical signals: category → healthy, at_risk or critical."
    )
    freshness_days: Whole | None = Field(
        default=None, description="A value older than this counts as missing."
    )


class ScorecardDefinition(Body):
    """What a scorecard version holds; what-if takes it as it is."""

    name: str = Field(max_length=200)
    segment: Segment | None = Field(
        default=None, description="Null: every account whose segment has no scorecard of its own."
    )
    healthy_min: Number = Field(default=70.0, description="Healthy at or above this score.")
    at_risk_min: Number = Field(
        default=40.0, description="At risk at or above this score, critical below."
    )
    coverage_floor: Number = Field(
        default=0.5,
        description="Below this share of weight with data the band is insufficient_data.",
    )
    note: str | None = Field(default=None, description="What changed and why, for the history.")
    measures: list[MeasureWrite]

    missing_messages: ClassVar[dict[str, str]] = {
        "name": "Give the scorecard a name.",
        "measures": "Add at least one measure.",
    }


class ScorecardWrite(ScorecardDefinition):
    """A changed definition; saving it makes a new version."""

    version: Whole | None = Field(
        default=None,
        description="The version you read; when the "
        "scorecard has a newer one the answer "
        "is 409 and nothing is saved. Leave "
        "it out to skip the check.",
    )


class ScorecardCreate(ScorecardDefinition):
    key: str | None = Field(
        default=None, max_length=60, description="Slug; default: from the name."
    )


class BacktestRequest(Body):
    version: Whole | None = Field(default=None, ge=1, description="Default: the current version.")
    window_days: Whole = Field(
        default=180, ge=1, le=1095, description="How far back outcomes (churn, expansion) count."
    )
    lead_days: Whole = Field(
        default=30, ge=0, le=365, description="How long before the outcome the band is read."
    )


class OverrideWrite(Body):
    band: OverrideBand | None = Field(default=None, description="Band, score or both.")
    score: Number | None = Field(default=None, ge=0, le=100)
    reason: str = Field(description="Why; shown beside the score and in the audit log.")
    expires_on: date = Field(
        description="The override ends at the start of this day (UTC); at most 365 days ahead."
    )

    missing_messages: ClassVar[dict[str, str]] = {
        "reason": "Say why (at least a few words): the next person will ask.",
        "expires_on": "Give the date the override ends (YYYY-MM-DD).",
    }
