"""Placeholder blueprint; filled in below."""

from flask import Blueprint

bp = Blueprint("templates", __name__)
