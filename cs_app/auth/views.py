"""Sign-in and sign-out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from cs_app.auth import service
from cs_app.auth.forms import LoginForm
from cs_app.auth.sessions import end_session, start_session
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.request_args import safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        now = utcnow()
        attempt = service.attempt_sign_in(
            form.email.data, form.password.data, client=request.remote_addr or "", now=now
        )
        db.session.commit()
        if attempt.retry_after:
            form.password.errors.append(
                f"Too many failed sign-ins. Try again in {attempt.retry_after} seconds."
            )
            status, headers = 429, {"Retry-After": str(attempt.retry_after)}
        elif attempt.user is not None:
            start_session(attempt.user, remember=form.remember.data, now=now)
            return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
        else:
            form.password.errors.append("That email and password do not match an active user.")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    service.end_sessions(current_user)
    db.session.commit()
    end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
