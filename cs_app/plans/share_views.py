"""Placeholder blueprint; filled in below."""

from flask import Blueprint

bp = Blueprint("share", __name__)
