"""The API blueprint, in its own module so that route modules register on it without
importing the package that imports them."""

from flask import Blueprint

from cs_app.api.errors import register_error_handlers

bp = Blueprint("api", __name__, url_prefix="/api/v1")
register_error_handlers(bp)
