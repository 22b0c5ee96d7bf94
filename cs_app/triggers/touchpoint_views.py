"""Browser pages for touchpoints (scheduled, sent, dead) and touchpoint templates."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("touchpoints", __name__)
