"""JSON API under /api/v1: bearer-token auth, one error shape, OpenAPI at /api/v1/openapi.json.

Importing the package registers every route module on ``bp`` (``api/blueprint.py``).
"""

from cs_app.api import (  # noqa: F401  (each registers its routes on bp)
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
from cs_app.api.blueprint import bp

__all__ = ["bp"]
