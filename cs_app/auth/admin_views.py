"""Placeholder blueprint; filled in below."""

from flask import Blueprint

bp = Blueprint("admin", __name__)
