"""JSON API under /api/v1: bearer-token auth, one error shape, OpenAPI at /api/v1/openapi.json.

The route modules are imported below, after ``bp`` exists, because they register on it.
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from cs_app.api import (  # noqa: E402,F401  (routes)
    accounts,
    auth,
    health,
    openapi,
    plans,
    pools,
    rules,
    rules_backtest,
    touchpoints,
    usage,
)
from cs_app.api.errors import register_error_handlers  # noqa: E402

register_error_handlers(bp)
