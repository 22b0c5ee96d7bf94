"""The home page, "My work": what the signed-in user should look at today."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from cs_app.db_types import utcnow
from cs_app.home.work import my_work

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index():
    """Their accounts, queue, alerts and the plans that need them."""
    now = utcnow()
    return render_template("home/index.html", work=my_work(current_user, today=now.date(), now=now))
