"""The OpenAPI document tells the truth, checked by schemathesis over every operation.

Schemathesis reads ``/api/v1/openapi.json`` from the app in-process and generates requests from
it: valid ones (``positive``) and ones the document forbids (``negative``). Every answer must
be a documented status with a documented content type and a body that matches its schema, and
never a server error. Two more checks are ours:

* ``validation_accepts_the_document``: a request the document allows is not refused by the
  API's own validation (``parse_body`` / ``parse_query`` with the operation's pydantic model).
  A 422 for a business rule (weights that do not add up to 100, an unknown owner) is fine; a
  422 from the validation that the document claims to describe is a lie in the document.
* ``viewer_writes_nothing``: with a viewer's token no POST, PUT, PATCH or DELETE that changes
  something answers 2xx, and the database holds exactly the same rows after the viewer's run.

The run is a property-based test of the whole API, so it cannot use the per-test rollback: it
builds its own throwaway database (SQLite, or PostgreSQL with ``CS_APP_TEST_DATABASE_URL``),
commits a small portfolio, and lets the requests commit. Hypothesis is derandomized and the
number of examples fixed, so a run is repeatable and takes the same time.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from sqlalchemy import inspect, select, text

from cs_app.api.routing import OPERATIONS
from cs_app.errors import ValidationError
from cs_app.extensions import db

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Examples per operation and generation mode: 60 operations x 2 roles x (positive + negative).
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}
CHECKS = {
    "not_a_server_error": not_a_server_error,
    "status_code_conformance": status_code_conformance,
    "content_type_conformance": content_type_conformance,
    "response_schema_conformance": response_schema_conformance,
}
# POSTs that compute an answer and save nothing: a viewer may call them.
READ_ONLY_POSTS = {
    ("POST", "/rules/preview"),
    ("POST", "/rules/{rule_id}/preview"),
    ("POST", "/rules/{rule_id}/backtest"),
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Rows a viewer's requests may change: the token's last-used time.
TABLES_A_READ_TOUCHES = {"api_tokens", "alembic_version"}


@pytest.fixture(scope="module")
def fuzz_app(throwaway_database):
    """The app on a database of its own, migrated, with a committed portfolio and one API
    token per role."""
    from flask_migrate import upgrade

    from cs_app import create_app
    from cs_app.config import TestConfig

    app = create_app(
        {
            **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
            "SQLALCHEMY_DATABASE_URI": throwaway_database(),
        }
    )
    with app.app_context():
        upgrade()
        app.config["FUZZ_TOKENS"], app.config["FUZZ_IDS"] = _seed()
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def _seed() -> tuple[dict[str, str], dict[str, list[Any]]]:
    from cs_app.auth.service import create_token
    from cs_app.health.models import Scorecard
    from tests import factories as f

    now = f.FACTORY_NOW
    users = {
        role: f.UserFactory(role=role, email=f"{role}@example.com")
        for role in ("admin", "lead", "csm", "viewer")
    }
    accounts = [f.AccountFactory(csm=users["csm"]) for _ in range(3)]
    contacts = [f.ContactFactory(account=account) for account in accounts]
    plans = [f.PlanFactory(account=account, owner=users["csm"]) for account in accounts]
    items = {
        "outcomes": [f.OutcomeFactory(plan=plan) for plan in plans],
        "milestones": [f.MilestoneFactory(plan=plan) for plan in plans],
        "risks": [f.RiskFactory(plan=plan) for plan in plans],
        "actions": [f.ActionFactory(plan=plan) for plan in plans],
        "stakeholders": [f.StakeholderFactory(plan=plan) for plan in plans],
    }
    rules = [f.RuleFactory() for _ in range(2)]
    pool = f.PoolFactory()
    f.PoolMemberFactory(pool=pool, user=users["csm"])
    queue = [f.QueueItemFactory(pool=pool, account=account) for account in accounts]
    touchpoints = [f.TouchpointFactory(account=account) for account in accounts]
    tokens = {}
    for role, user in users.items():
        _, token = create_token(user, name="schemathesis", now=now)
        tokens[role] = token
    db.session.commit()
    ids: dict[str, list[Any]] = {
        "external_id": [account.external_id for account in accounts],
        "contact_id": [contact.id for contact in contacts],
        "plan_id": [plan.id for plan in plans],
        "rule_id": [rule.id for rule in rules],
        "pool_id": [pool.id],
        "queue_item_id": [item.id for item in queue],
        "touchpoint_id": [touchpoint.id for touchpoint in touchpoints],
        "scorecard_id": list(db.session.scalars(select(Scorecard.id))),
    }
    for component, rows in items.items():
        ids[f"item_id:{component}"] = [row.id for row in rows]
    ids["item_id:reviews"] = ids["item_id:outcomes"]
    return tokens, ids


def _database_fingerprint() -> dict[str, str]:
    """A digest of every row of every table but those a read may touch."""
    connection = db.session.connection()
    digests = {}
    for table in sorted(inspect(connection).get_table_names()):
        if table in TABLES_A_READ_TOUCHES:
            continue
        rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
        digests[table] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    db.session.rollback()
    return digests


def _operation_models(app) -> dict[tuple[str, str], Any]:
    from cs_app.api.openapi import openapi_path

    models = {}
    for rule in app.url_map.iter_rules():
        operation = OPERATIONS.get(rule.endpoint)
        if operation is None:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            models[(method, openapi_path(rule.rule))] = operation
    return models


def _validation_refuses(app, case, operation) -> str | None:
    """What the API's own validation says of the request ``case`` sends, or None if it
    accepts it: the same ``parse_body`` and ``parse_query`` the views call."""
    from cs_app.api.parsing import parse_body, parse_query

    kwargs: dict[str, Any] = {"method": case.method, "query_string": case.query or {}}
    if case.body is not None and not isinstance(case.body, schemathesis.core.NotSet):
        kwargs["json"] = case.body
    with app.test_request_context("/api/v1/x", **kwargs):
        try:
            if operation.query is not None:
                parse_query(operation.query)
            if operation.request is not None:
                parse_body(operation.request)
        except ValidationError as error:
            return f"{error.message} {error.fields}"
    return None


def _known_ids(case, ids, draw) -> None:
    """Point the path at seeded rows half of the time, so that cases reach past the 404."""
    if not case.path_parameters or not draw(st.booleans()):
        return
    for name in case.path_parameters:
        key = name
        if name == "item_id":
            key = f"item_id:{case.path.split('/')[3]}"
        if key in ids and ids[key]:
            case.path_parameters[name] = draw(st.sampled_from(ids[key]))


class Run:
    """What one role's run found: cases, statuses and failures by check."""

    def __init__(self, app, role: str):
        self.app = app
        self.role = role
        self.headers = {"Authorization": f"Bearer {app.config['FUZZ_TOKENS'][role]}"}
        self.ids = app.config["FUZZ_IDS"]
        self.models = _operation_models(app)
        self.failures: dict[str, list[str]] = defaultdict(list)
        self.statuses: Counter = Counter()
        self.cases = 0
        self.operations = 0

    def exercise(self, api_operation) -> None:
        self.operations += 1
        for mode, examples in EXAMPLES.items():
            self._property(api_operation, mode, examples)()

    def _property(self, api_operation, mode: GenerationMode, examples: int):
        @hypothesis.settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=api_operation.as_strategy(generation_mode=mode), data=st.data())
        def check_operation(case, data):
            _known_ids(case, self.ids, data.draw)
            self.check(case, mode)

        return check_operation

    def check(self, case, mode: GenerationMode) -> None:
        self.cases += 1
        method, path = case.method.upper(), case.operation.path
        label = f"{method} {path}"
        response = case.call(headers=self.headers)
        self.statuses[response.status_code] += 1
        for name, check in CHECKS.items():
            try:
                case.validate_response(response, checks=[check], headers=self.headers)
            except (Failure, FailureGroup) as error:  # each one is recorded, not raised
                self.failures[name].append(f"{label} [{mode.value}]: {error}"[:1500])
        if (
            self.role == "viewer"
            and method in WRITE_METHODS
            and (method, path) not in READ_ONLY_POSTS
            and 200 <= response.status_code < 300
        ):
            self.failures["viewer_writes_nothing"].append(
                f"{label}: {response.status_code} {response.text[:300]}"
            )
        if mode is GenerationMode.POSITIVE and response.status_code in (400, 422):
            refusal = _validation_refuses(self.app, case, self.models[(method, path)])
            if refusal is not None:
                self.failures["validation_accepts_the_document"].append(
                    f"{label}: {case.body!r} {case.query!r} -> {refusal}"[:1500]
                )


def _run(app, role: str) -> dict[str, Any]:
    run = Run(app, role)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    for result in schema.get_all_operations():
        run.exercise(result.ok())
    return {
        "operations": run.operations,
        "cases": run.cases,
        "statuses": dict(sorted(run.statuses.items())),
        "failures": {name: len(found) for name, found in run.failures.items()},
        "examples": run.failures,
    }


def _report(role: str, outcome: dict[str, Any], seconds: float) -> str:
    lines = [
        f"{role}: {outcome['operations']} operations, {outcome['cases']} cases in "
        f"{seconds:.1f}s; statuses {outcome['statuses']}; failures {outcome['failures']}"
    ]
    for name, found in outcome["examples"].items():
        by_operation: dict[str, str] = {}
        for failure in found:
            by_operation.setdefault(failure.split(" [")[0].split(":")[0], failure)
        lines.append(f"--- {name}: {len(found)} in {len(by_operation)} operations")
        lines.extend(by_operation.values())
    return "\n".join(lines)


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_the_api_answers_as_its_document_says(fuzz_app, role):
    with fuzz_app.app_context():
        before = _database_fingerprint() if role == "viewer" else None
    started = time.monotonic()
    outcome = _run(fuzz_app, role)
    seconds = time.monotonic() - started
    report = _report(role, outcome, seconds)
    print(report)
    assert outcome["operations"] >= 58
    assert not outcome["examples"], report
    if before is not None:
        with fuzz_app.app_context():
            after = _database_fingerprint()
        changed = [table for table in before if before[table] != after.get(table)]
        assert not changed, f"the viewer's requests changed {changed}"
