"""Success plans over the API: an account's plans, whole plans, components and history.

Writes carry versions: a plan PATCH must send the plan's ``version`` and a stale one answers
409 with nothing changed; a component PATCH may send the item's ``version`` for the same check.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, url_for
from sqlalchemy import select

from cs_app.accounts import service as account_service
from cs_app.api import responses, schemas, serializers
from cs_app.api.auth import api_user, require_account_editor, require_plan_editor
from cs_app.api.errors import renamed_fields
from cs_app.api.parsing import parse_body
from cs_app.api.queries import account_plans
from cs_app.api.routing import Operation, api_route, register
from cs_app.auth.service import find_user
from cs_app.db_types import utcnow
from cs_app.errors import ConflictError, ValidationError
from cs_app.extensions import db
from cs_app.plans import service as plan_service
from cs_app.plans.models import Plan, PlanTemplate

TAG = "Plans"
PLAN_FIELD_NAMES = {"owner_id": "owner_email"}


def _plan_response(plan: Plan, status: int = 200):
    today = utcnow().date()
    insights = plan_service.plan_insights(
        plan, today=today, dark_after_days=current_app.config["STAKEHOLDER_DARK_DAYS"]
    )
    return jsonify(serializers.plan(plan, insights, today)), status


def _owner_id(email: str) -> int:
    user = find_user(email)
    if user is None or not user.active:
        message = f"No active user has the email {email}."
        raise ValidationError(message, {"owner_email": message})
    return user.id


def _check_template(key: str) -> None:
    if db.session.scalar(select(PlanTemplate.id).where(PlanTemplate.key == key)) is None:
        known = ", ".join(db.session.scalars(select(PlanTemplate.key).order_by(PlanTemplate.key)))
        message = f"Unknown template {key!r}; the templates are: {known}."
        raise ValidationError(message, {"template": message})


def _stale(error: ConflictError, sent: int, current: int, what: str) -> ConflictError:
    return ConflictError(
        error.message,
        {
            "version": f"You sent version {sent} but the {what} is at version {current}; read it "
            f"again and reapply your change."
        },
    )


@api_route(
    "/accounts/<external_id>/plans",
    "GET",
    tag=TAG,
    summary="An account's plans",
    response=responses.PlanList,
)
def list_plans(external_id: str):
    account = account_service.get_account(external_id)
    return jsonify({"items": [serializers.plan_summary(p) for p in account_plans(account)]})


@api_route(
    "/accounts/<external_id>/plans",
    "POST",
    tag=TAG,
    summary="Create a plan",
    description="Blank (title and plan_type needed) or from a template: its type, "
    "cadence and title are defaults and its rows are dated from the "
    "account's contract start.",
    request=schemas.PlanCreate,
    response=responses.PlanOut,
    status=201,
)
def create_plan(external_id: str):
    user = api_user()
    account = account_service.get_account(external_id)
    require_account_editor(user, account)
    values = parse_body(schemas.PlanCreate).values()
    template_key = values.pop("template", None)
    if template_key:
        _check_template(template_key)
    if "owner_email" in values:
        values["owner_id"] = _owner_id(values.pop("owner_email"))
    try:
        plan = account_service.create_plan_for_account(
            account, template_key, values, user=user, now=utcnow()
        )
    except ValidationError as error:
        raise renamed_fields(error, PLAN_FIELD_NAMES) from error
    db.session.commit()
    response, status = _plan_response(plan, 201)
    response.headers["Location"] = url_for("api.get_plan", plan_id=plan.id)
    return response, status


@api_route(
    "/plans/<int:plan_id>",
    "GET",
    tag=TAG,
    summary="A whole plan with every component, its flags and version",
    response=responses.PlanOut,
)
def get_plan(plan_id: int):
    return _plan_response(plan_service.get_plan(plan_id))


@api_route(
    "/plans/<int:plan_id>",
    "PATCH",
    tag=TAG,
    summary="Change a plan",
    description="Send the plan's `version` as read; when someone changed the plan "
    "since, the answer is 409 and nothing is changed.",
    request=schemas.PlanUpdate,
    response=responses.PlanOut,
    conflict=True,
)
def update_plan(plan_id: int):
    user = api_user()
    plan = plan_service.get_plan(plan_id)
    require_plan_editor(user, plan)
    values = parse_body(schemas.PlanUpdate).values()
    version = values.pop("version")
    if "owner_email" in values:
        values["owner_id"] = _owner_id(values.pop("owner_email"))
    try:
        plan_service.update_plan(plan, values, expected_version=version, user=user, now=utcnow())
    except ConflictError as error:
        raise _stale(error, version, plan.version, "plan") from error
    except ValidationError as error:
        raise renamed_fields(error, PLAN_FIELD_NAMES) from error
    db.session.commit()
    return _plan_response(plan)


@api_route(
    "/plans/<int:plan_id>/history",
    "GET",
    tag=TAG,
    summary="The plan's change log",
    response=responses.PlanHistory,
)
def plan_history(plan_id: int):
    plan = plan_service.get_plan(plan_id)
    return jsonify(
        {"items": [serializers.history_entry(c) for c in plan_service.plan_history(plan)]}
    )


# --- components -----------------------------------------------------------------------------


def add_item(plan_id: int, component: str):
    user = api_user()
    plan = plan_service.get_plan(plan_id)
    require_plan_editor(user, plan)
    create_body, _ = schemas.COMPONENT_BODIES[component]
    values = parse_body(create_body).values()
    item = plan_service.add_item(plan, component, values, user=user, now=utcnow())
    db.session.commit()
    return jsonify(serializers.item(component, item, utcnow().date())), 201


def update_item(plan_id: int, item_id: int, component: str):
    user = api_user()
    plan = plan_service.get_plan(plan_id)
    item = plan_service.get_item(plan, component, item_id)
    require_plan_editor(user, plan)
    _, update_body = schemas.COMPONENT_BODIES[component]
    values = parse_body(update_body).values()
    version = values.pop("version", None)
    label = plan_service.COMPONENTS[component].label.lower()
    try:
        plan_service.update_item(
            plan, component, item, values, expected_version=version, user=user, now=utcnow()
        )
    except ConflictError as error:
        raise _stale(error, version, item.version, label) from error
    db.session.commit()
    return jsonify(serializers.item(component, item, utcnow().date()))


def delete_item(plan_id: int, item_id: int, component: str):
    user = api_user()
    plan = plan_service.get_plan(plan_id)
    item = plan_service.get_item(plan, component, item_id)
    require_plan_editor(user, plan)
    plan_service.delete_item(plan, component, item, user=user, now=utcnow())
    db.session.commit()
    return "", 204


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _register_components() -> None:
    for component, spec in plan_service.COMPONENTS.items():
        label = spec.label.lower()
        create_body, update_body = schemas.COMPONENT_BODIES[component]
        response = responses.COMPONENT_RESPONSES[component]
        defaults: dict[str, Any] = {"component": component}
        collection = f"/plans/<int:plan_id>/{component}"
        register(
            collection,
            "POST",
            f"add_{label}",
            add_item,
            Operation(
                tag=TAG,
                summary=f"Add {_article(label)} {label} to a plan",
                request=create_body,
                response=response,
                status=201,
            ),
            defaults,
        )
        register(
            f"{collection}/<int:item_id>",
            "PATCH",
            f"update_{label}",
            update_item,
            Operation(
                tag=TAG,
                summary=f"Change {_article(label)} {label}",
                description="Only the keys sent change. Send the item's `version` "
                "to be refused (409) if someone changed it since.",
                request=update_body,
                response=response,
                conflict=True,
            ),
            defaults,
        )
        register(
            f"{collection}/<int:item_id>",
            "DELETE",
            f"delete_{label}",
            delete_item,
            Operation(tag=TAG, summary=f"Remove {_article(label)} {label}", status=204),
            defaults,
        )


_register_components()
