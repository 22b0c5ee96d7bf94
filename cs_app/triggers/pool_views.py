"""Browser pages for CSM pools, their queues, the CSM's own queue and alerts."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pools", __name__)
