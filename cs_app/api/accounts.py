"""Accounts and contacts over the API: upsert by external ID, list, read, contacts."""

from __future__ import annotations

from typing import Any

from flask import jsonify, url_for
from sqlalchemy import select

from cs_app.accounts import service as account_service
from cs_app.accounts.models import Account
from cs_app.accounts.usage_models import AccountSignals
from cs_app.api import responses, schemas, serializers
from cs_app.api.auth import api_user, require_account_editor, require_lead, require_writer
from cs_app.api.errors import renamed_fields
from cs_app.api.parsing import parse_body, parse_query
from cs_app.api.queries import account_page, account_plans, account_scope, latest_health
from cs_app.api.routing import api_route
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.health.service import account_health

TAG = "Accounts"
# The service's field names → the API's, so error.fields names what the caller sent.
ACCOUNT_FIELD_NAMES = {"csm_id": "csm_email", "arr_minor": "arr"}


def _account_values(body: schemas.AccountWrite) -> dict[str, Any]:
    """The API's keys as the account service names them."""
    values = body.values()
    if "arr" in values:
        values["arr_minor"] = values.pop("arr")
    context = values.pop("business_context", None)
    if context is not None:
        values.update(context)
    elif "business_context" in body.model_fields_set:  # null clears the whole context
        values.update(dict.fromkeys(schemas.BusinessContext.model_fields))
    return values


@api_route(
    "/accounts/<external_id>",
    "PUT",
    tag=TAG,
    summary="Create or update an account",
    description="Creates the account (201) or changes the keys given (200); keys left "
    "out keep their value, so sending the same body twice is harmless. "
    "Creating an account or changing its CSM needs a lead or admin token; "
    "a CSM may update the accounts they own.",
    request=schemas.AccountWrite,
    response=responses.AccountOut,
    status=200,
    conflict=True,
    alternate_status=201,
)
def put_account(external_id: str):
    user = api_user()
    require_writer(user)
    account = db.session.scalar(select(Account).where(Account.external_id == external_id))
    if account is None:
        require_lead(user, "Only leads and admins create accounts.")
    else:
        require_account_editor(user, account)
    body = parse_body(schemas.AccountWrite)
    if "external_id" in body.model_fields_set and body.external_id != external_id:
        message = f"The body's external_id must match the address ({external_id})."
        raise ValidationError(message, {"external_id": message})
    values = _account_values(body)
    try:
        account, created = account_service.upsert_account(
            {**values, "external_id": external_id}, now=utcnow(), user=user
        )
    except ValidationError as error:
        raise renamed_fields(error, ACCOUNT_FIELD_NAMES) from error
    db.session.commit()
    health = latest_health([account.id], now=utcnow()).get(account.id)
    response = jsonify(serializers.account(account, health))
    if created:
        response.status_code = 201
        response.headers["Location"] = url_for("api.get_account", external_id=external_id)
    return response


@api_route(
    "/accounts",
    "GET",
    tag=TAG,
    summary="List accounts",
    description="Filtered and paged, ordered by name. Each item's `health` is its "
    "latest snapshot (null when never scored) without the per-measure "
    "changes the single-account read adds; `band` filters on it.",
    query=schemas.AccountListQuery,
    response=responses.AccountPage,
)
def list_accounts():
    query = parse_query(schemas.AccountListQuery)
    scope = account_scope(
        segment=query.segment,
        csm=query.csm,
        stage=query.stage,
        engagement_model=query.engagement_model,
        q=query.q,
        band=query.band,
    )
    now = utcnow()
    page = account_page(scope, page=query.page, per_page=query.per_page)
    health = latest_health([a.id for a in page.items], now=now)
    return jsonify(
        {
            "items": [serializers.account(a, health.get(a.id)) for a in page.items],
            "page": page.page,
            "per_page": page.per_page,
            "total": page.total,
        }
    )


@api_route(
    "/accounts/<external_id>",
    "GET",
    tag=TAG,
    summary="Read an account with its health, signals, contacts, plans and stages",
    description="`health` explains the latest score: per measure its value, score, "
    "weight, points lost, whether it was stale or missing and how its "
    "score changed against 7 and 30 days ago, and any override beside the "
    "computed score. `signals` are the values scoring and rules read.",
    response=responses.AccountDetailOut,
)
def get_account(external_id: str):
    account = account_service.get_account(external_id)
    return jsonify(
        serializers.account_detail(
            account,
            health=serializers.health_detail(account_health(account, now=utcnow())),
            signals=db.session.get(AccountSignals, account.id),
            contacts=account.contacts,
            plans=account_plans(account),
            stages=account_service.stage_history(account),
        )
    )


@api_route(
    "/accounts/<external_id>/contacts",
    "POST",
    tag=TAG,
    summary="Add a contact",
    request=schemas.ContactCreate,
    response=responses.ContactOut,
    status=201,
)
def create_contact(external_id: str):
    user = api_user()
    account = account_service.get_account(external_id)
    require_account_editor(user, account)
    body = parse_body(schemas.ContactCreate)
    contact = account_service.add_contact(account, body.values(), user=user, now=utcnow())
    db.session.commit()
    return jsonify(serializers.contact(contact)), 201


@api_route(
    "/accounts/<external_id>/contacts/<int:contact_id>",
    "PATCH",
    tag=TAG,
    summary="Change a contact",
    request=schemas.ContactUpdate,
    response=responses.ContactOut,
)
def update_contact(external_id: str, contact_id: int):
    user = api_user()
    account = account_service.get_account(external_id)
    contact = account_service.get_contact(account, contact_id)
    require_account_editor(user, account)
    body = parse_body(schemas.ContactUpdate)
    account_service.update_contact(contact, body.values(), user=user, now=utcnow())
    db.session.commit()
    return jsonify(serializers.contact(contact))
