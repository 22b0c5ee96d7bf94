"""User administration (admins) and each user's own API tokens."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from cs_app.auth import service
from cs_app.auth.forms import PasswordForm, TokenForm, UserForm
from cs_app.auth.models import ApiToken, User
from cs_app.auth.permissions import can_manage_users
from cs_app.auth.sessions import start_session
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.form_errors import show_errors_above

bp = Blueprint("admin", __name__)


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Every page here needs a signed-in user; the user pages also need an admin."""


def _require_admin() -> None:
    if not can_manage_users(current_user):
        abort(403)


# --- users (admins only) ---------------------------------------------------------------------


def _render_users(form: UserForm, status: int = 200):
    return render_template("admin/users.html", users=service.list_users(), form=form), status


@bp.route("/admin/users", methods=["GET", "POST"])
def users():
    _require_admin()
    form = UserForm(prefix="new")
    if request.method == "POST":
        if not form.password.data:
            form.validate()
            form.password.errors = [
                *form.password.errors,
                "Set a first password (at least 8 characters).",
            ]
        elif form.validate():
            try:
                user = service.create_user(
                    form.email.data,
                    role=form.role.data,
                    name=form.name.data,
                    password=form.password.data,
                    now=utcnow(),
                )
            except ValidationError as error:
                db.session.rollback()
                show_errors_above(form, error)
            else:
                user.away = bool(form.away.data)
                user.active = bool(form.active.data)
                db.session.commit()
                flash(f"Created {user.role_label} {user.email}.", "success")
                return redirect(url_for("admin.users"))
        return _render_users(form, 422)
    form = UserForm(prefix="new", formdata=None)
    form.role.data = "csm"  # the common case; admin is never a default
    return _render_users(form)


def _render_user(user: User, form: UserForm, status: int = 200):
    form.password.label.text = "Reset password"
    return render_template(
        "admin/user.html", user=user, form=form, tokens=service.tokens_of(user.id), admin_view=True
    ), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int):
    _require_admin()
    person = service.get_user(user_id) or abort(404)
    if request.method != "POST":
        return _render_user(person, UserForm(formdata=None, obj=person))
    form = UserForm()
    form.email.data = person.email  # the email is the sign-in name; it does not change here
    version_before, now = person.session_version, utcnow()
    if form.validate():
        try:
            service.update_user(
                person,
                {
                    "name": form.name.data,
                    "role": form.role.data,
                    "active": form.active.data,
                    "away": form.away.data,
                    "password": form.password.data or None,
                },
                actor=current_user,
                now=now,
            )
        except ValidationError as error:
            db.session.rollback()
            show_errors_above(form, error)
        else:
            db.session.commit()
            if person.id == current_user.id and person.session_version != version_before:
                # the admin's own new password or role ended their sessions; this one goes on
                start_session(person, remember=False, now=now)
            flash(f"Saved {person.name}.", "success")
            return redirect(url_for("admin.user", user_id=person.id))
    return _render_user(person, form, 422)


@bp.route("/admin/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_user_token(user_id: int, token_id: int):
    _require_admin()
    record = service.get_token(token_id)
    if record is None or record.user_id != user_id:
        abort(404)
    service.revoke_token(record, now=utcnow())
    db.session.commit()
    flash(f"Revoked the token “{record.name}” ({record.prefix}…).", "success")
    return redirect(url_for("admin.user", user_id=user_id))


# --- my API tokens (everyone) -----------------------------------------------------------------


def _render_tokens(
    form: TokenForm,
    status: int = 200,
    new_token: str | None = None,
    new_record: ApiToken | None = None,
):
    return render_template(
        "admin/tokens.html",
        form=form,
        tokens=service.tokens_of(current_user.id),
        new_token=new_token,
        new_record=new_record,
        admin_view=False,
    ), status


@bp.route("/account/tokens", methods=["GET", "POST"])
def tokens():
    form = TokenForm()
    if request.method != "POST":
        return _render_tokens(form)
    if not form.validate():
        return _render_tokens(form, 422)
    record, plain = service.create_token(current_user, name=form.name.data.strip(), now=utcnow())
    db.session.commit()
    # Shown on this response only (not flashed: the session cookie must never carry it).
    return _render_tokens(TokenForm(formdata=None), 200, new_token=plain, new_record=record)


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    """Everyone changes their own password here; every other session of theirs ends."""
    form = PasswordForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate():
            user = current_user._get_current_object()
            try:
                service.change_own_password(
                    user, current=form.current_password.data, new=form.new_password.data
                )
            except ValidationError as error:
                db.session.rollback()
                show_errors_above(form, error)
            else:
                db.session.commit()
                start_session(user, remember=False, now=utcnow())
                flash("Your password is changed; your other browsers were signed out.", "success")
                return redirect(url_for("admin.password"))
    return render_template("admin/password.html", form=form), status


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    record = service.get_token(token_id)
    if record is None:
        abort(404)
    if record.user_id != current_user.id:
        abort(403)
    service.revoke_token(record, now=utcnow())
    db.session.commit()
    flash(
        f"Revoked the token “{record.name}” ({record.prefix}…). Integrations using it stop "
        f"working now.",
        "success",
    )
    return redirect(url_for("admin.tokens"))
