"""Placeholder blueprint; filled in below."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)
