"""Sign-in and sign-out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from cs_app.auth import service
from cs_app.auth.forms import LoginForm
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.request_args import safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        now = utcnow()
        wait = service.login_delay(form.email.data, now)
        if wait:
            form.password.errors.append(
                f"Too many failed sign-ins for this address. Try again in {wait} seconds."
            )
            status = 429
        else:
            user = service.authenticate(form.email.data, form.password.data, now=now)
            db.session.commit()
            if user is not None:
                login_user(user, remember=form.remember.data)
                return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
            form.password.errors.append("That email and password do not match an active user.")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
