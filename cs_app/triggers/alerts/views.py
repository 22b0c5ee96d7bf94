"""The alerts page, marking alerts read, and the top bar's unread-alert badge."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.request_args import page_number, safe_next
from cs_app.triggers.alerts import service as alerts

bp = Blueprint("alerts", __name__)


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Every alert page needs a signed-in user."""


class UnreadAlerts:
    """The top bar's unread-alert count, counted (one indexed query) only when a page shows
    it, so pages that pass their own count, and partial templates, pay nothing."""

    def __init__(self, user) -> None:
        self.user = user
        self._count: int | None = None

    @property
    def count(self) -> int:
        if self._count is None:
            self._count = alerts.unread_count(self.user)
        return self._count

    def __bool__(self) -> bool:
        return self.count > 0

    def __int__(self) -> int:
        return self.count

    def __str__(self) -> str:
        return str(self.count)


@bp.app_context_processor
def alert_badge() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {"unread_alerts": 0}
    return {"unread_alerts": UnreadAlerts(current_user)}


@bp.route("/alerts")
def index():
    unread_only = request.args.get("show") == "unread"
    listing = alerts.list_alerts(
        current_user, unread_only=unread_only, page=page_number(request.args)
    )
    return render_template(
        "alerts/index.html",
        listing=listing,
        unread_only=unread_only,
        kinds=alerts.ALERT_KINDS,
        unread_alerts=listing.counts["unread"],
        args={"show": "unread"} if unread_only else {},
    )


@bp.route("/alerts/<int:alert_id>/read", methods=["POST"])
def read(alert_id: int):
    alert = alerts.get_alert(alert_id)
    alerts.mark_read(alert, user=current_user, now=utcnow())
    db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("alerts.index"))


@bp.route("/alerts/read", methods=["POST"])
def read_all():
    count = alerts.mark_all_read(current_user, now=utcnow())
    db.session.commit()
    flash(
        f"Marked {count} alert{'' if count == 1 else 's'} as read."
        if count
        else "No unread alerts.",
        "success" if count else "info",
    )
    return redirect(url_for("alerts.index"))
