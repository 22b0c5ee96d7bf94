"""Health over the API: scorecards (versioned, what-if, backtest) and manual overrides.

Scorecards are read by everyone; creating, changing, what-if and backtest are for leads and
admins, who author them. Saving a changed scorecard makes a new version; ``error.fields`` of a
refused definition are the health service's (``weights``, ``measures.2.signal``). An override
is set or cleared by the account's CSM, a lead or an admin.
"""

from __future__ import annotations

from flask import jsonify, url_for

from cs_app.accounts import service as account_service
from cs_app.api import responses, schemas, serializers
from cs_app.api.auth import api_user, require_account_editor
from cs_app.api.parsing import parse_body
from cs_app.api.queries import all_scorecards
from cs_app.api.routing import api_route
from cs_app.auth.models import User
from cs_app.db_types import utcnow
from cs_app.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from cs_app.extensions import db
from cs_app.health import service as health_service
from cs_app.health.backtest import backtest
from cs_app.health.models import Scorecard, ScorecardVersion

TAG = "Health"


def require_scorecard_author(user: User) -> None:
    if not user.can_edit_everything:
        raise PermissionDenied(
            "Only leads and admins author scorecards (create, change, what-if and backtest)."
        )


def _detail(scorecard: Scorecard, status: int = 200):
    return jsonify(serializers.scorecard_detail(scorecard)), status


# --- scorecards -----------------------------------------------------------------------------


@api_route(
    "/scorecards",
    "GET",
    tag=TAG,
    summary="List scorecards with their current version",
    description="In the order the recompute applies them (priority, then id).",
    response=responses.ScorecardList,
)
def list_scorecards():
    return jsonify({"items": [serializers.scorecard(s) for s in all_scorecards()]})


@api_route(
    "/scorecards",
    "POST",
    tag=TAG,
    summary="Create a scorecard",
    description="Its first version holds the definition. The weights of the measures "
    "add up to 100; a refused definition names each problem in "
    "`error.fields` (`weights`, `measures.N.signal`, ...).",
    request=schemas.ScorecardCreate,
    response=responses.ScorecardDetailOut,
    status=201,
)
def create_scorecard():
    user = api_user()
    require_scorecard_author(user)
    values = parse_body(schemas.ScorecardCreate).values()
    scorecard = health_service.create_scorecard(values, user=user, now=utcnow())
    db.session.commit()
    response, status = _detail(scorecard, 201)
    response.headers["Location"] = url_for("api.get_scorecard", scorecard_id=scorecard.id)
    return response, status


@api_route(
    "/scorecards/<int:scorecard_id>",
    "GET",
    tag=TAG,
    summary="A scorecard's current version with its measures and version history",
    response=responses.ScorecardDetailOut,
)
def get_scorecard(scorecard_id: int):
    return _detail(health_service.get_scorecard(scorecard_id))


@api_route(
    "/scorecards/<int:scorecard_id>",
    "PUT",
    tag=TAG,
    summary="Change a scorecard: saves a new version",
    description="The body is the whole definition of the new version (as `GET` shows "
    "it, without `id`, `key`, `active` and `versions`). Earlier versions "
    "stay for history and backtests. Send the `version` you read to be "
    "refused (409) if someone saved a newer one since.",
    request=schemas.ScorecardWrite,
    response=responses.ScorecardDetailOut,
    conflict=True,
)
def put_scorecard(scorecard_id: int):
    user = api_user()
    scorecard = health_service.get_scorecard(scorecard_id)
    require_scorecard_author(user)
    values = parse_body(schemas.ScorecardWrite).values()
    sent = values.pop("version", None)
    current = scorecard.current_version
    if sent is not None and current is not None and sent != current.number:
        raise ConflictError(
            "Someone saved a newer version of this scorecard; nothing was saved.",
            {
                "version": f"You sent version {sent} but the scorecard is at "
                f"version {current.number}; read it again and "
                f"reapply your change.",
            },
        )
    version = health_service.save_version(scorecard, values, user=user, now=utcnow())
    db.session.commit()
    return jsonify(serializers.scorecard_detail(scorecard, version))


@api_route(
    "/scorecards/<int:scorecard_id>/what-if",
    "POST",
    tag=TAG,
    summary="How the band counts would move under a changed definition",
    description="Scores the scorecard's accounts with the current version and with the "
    "definition sent, by the same SQL as the recompute; nothing is saved. "
    "Takes the body the `PUT` would send (its `version` is not checked "
    "here).",
    request=schemas.ScorecardWrite,
    response=responses.WhatIfOut,
)
def what_if_scorecard(scorecard_id: int):
    scorecard = health_service.get_scorecard(scorecard_id)
    require_scorecard_author(api_user())
    values = parse_body(schemas.ScorecardWrite).values()
    values.pop("version", None)
    return jsonify(health_service.what_if(scorecard, values, now=utcnow()))


def _version(scorecard: Scorecard, number: int | None) -> ScorecardVersion:
    if number is None:
        if scorecard.current_version is None:
            raise ValidationError(
                "The scorecard has no version to backtest.",
                {"version": "The scorecard has no version yet."},
            )
        return scorecard.current_version
    for version in scorecard.versions:
        if version.number == number:
            return version
    known = ", ".join(str(v.number) for v in reversed(scorecard.versions)) or "none"
    message = f"The scorecard has no version {number}; its versions are: {known}."
    raise ValidationError(message, {"version": message})


@api_route(
    "/scorecards/<int:scorecard_id>/backtest",
    "POST",
    tag=TAG,
    summary="Replay a scorecard version over the stored history",
    description="Scores each account as it stood `lead_days` before it churned or "
    "expanded within the last `window_days` (retained accounts: "
    "`lead_days` before today) and counts the bands per group. Send `{}` "
    "for the current version. Nothing is saved.",
    request=schemas.BacktestRequest,
    response=responses.BacktestOut,
)
def backtest_scorecard(scorecard_id: int):
    scorecard = health_service.get_scorecard(scorecard_id)
    require_scorecard_author(api_user())
    body = parse_body(schemas.BacktestRequest)
    version = _version(scorecard, body.version)
    result = backtest(version, now=utcnow(), window_days=body.window_days, lead_days=body.lead_days)
    return jsonify(result.as_dict())


# --- overrides ------------------------------------------------------------------------------

OVERRIDE_PATH = "/accounts/<external_id>/health/override"


@api_route(
    OVERRIDE_PATH,
    "PUT",
    tag=TAG,
    summary="Override an account's health",
    description="Band and/or score, with a reason and an expiry date (at most 365 days "
    "ahead). It replaces any active override, is never overwritten by a "
    "recompute before it expires, shows beside the computed score and is "
    "audited. Answers the account's health. 409 when no active scorecard "
    "scores the account (there is no score to override). For the account's "
    "CSM, leads and admins.",
    request=schemas.OverrideWrite,
    response=responses.HealthDetailOut,
    conflict=True,
)
def put_override(external_id: str):
    user = api_user()
    account = account_service.get_account(external_id)
    require_account_editor(user, account)
    values = parse_body(schemas.OverrideWrite).values()
    now = utcnow()
    health_service.set_override(account, values, user=user, now=now)
    health = serializers.health_detail(health_service.account_health(account, now=now))
    if health is None:
        raise ConflictError(
            f"No active scorecard scores {account.name} (segment "
            f"{account.segment}), so it has no health to override; nothing "
            f"was saved."
        )
    db.session.commit()
    return jsonify(health)


@api_route(
    OVERRIDE_PATH,
    "DELETE",
    tag=TAG,
    summary="Clear an account's health override",
    description="The computed score applies again at once. 404 when the account has "
    "no active override.",
    status=204,
)
def delete_override(external_id: str):
    user = api_user()
    account = account_service.get_account(external_id)
    require_account_editor(user, account)
    if not health_service.clear_override(account, user=user, now=utcnow()):
        raise NotFoundError(f"{account.name} has no active health override.")
    db.session.commit()
    return "", 204
