"""What every page shares: sign-in loading, error pages, security headers, template filters."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, abort, jsonify, render_template, request
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from cs_app.errors import DomainError, NotFoundError, PermissionDenied
from cs_app.extensions import db, login_manager
from cs_app.json_limits import text_problem
from cs_app.money import compact_money, format_money
from cs_app.numbers import format_number
from cs_app.sql import is_database_busy

# a year, this host only: subdomains may not serve HTTPS yet; no preload (that cannot be undone)
HSTS = "max-age=31536000"


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _refuse_nul_characters() -> None:
    """A page's query or form value holding a NUL character is a 400: PostgreSQL stores and
    compares no NUL, so a search or a saved field holding one would fail as a 500 there. The
    API refuses them itself (422, naming the parameter or the item)."""
    if request.path.startswith("/api/"):
        return
    values = [*request.args.keys(), *request.args.values()]
    if request.method not in ("GET", "HEAD"):  # empty unless the body is a form
        values += [*request.form.keys(), *request.form.values()]
    if any(text_problem(value) for value in values):
        abort(400, "A value in this request holds a NUL character, which cannot be stored.")


def register_web(app: Flask) -> None:
    from cs_app.auth.sessions import load_user, register_sessions

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"

    login_manager.user_loader(load_user)
    register_sessions(app)
    app.before_request(_refuse_nul_characters)

    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["money_short"] = compact_money
    app.jinja_env.filters["day"] = format_date
    app.jinja_env.filters["num"] = lambda value: format_number(value, max_decimals=3)
    app.jinja_env.globals["today"] = date.today

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        )
        # Pages and API answers carry personal data (and once a new API token): no browser
        # or proxy keeps a copy. Only the vendored static files may be cached.
        if request.endpoint != "static" and "no-store" not in response.headers.get(
            "Cache-Control", ""
        ):
            response.headers["Cache-Control"] = "no-store"
        if request.is_secure:  # only over HTTPS: a browser ignores it on plain HTTP anyway
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    def wants_json() -> bool:
        return request.path.startswith("/api/")

    def error_page(status: int, code: str, message: str):
        if wants_json():
            return jsonify({"error": {"code": code, "message": message, "fields": {}}}), status
        return render_template(
            "errors/error.html", status=status, message=message, user=current_user
        ), status

    @app.errorhandler(400)
    def bad_request(error):
        return error_page(400, "bad_request", getattr(error, "description", "Bad request."))

    @app.errorhandler(403)
    def forbidden(error):
        return error_page(403, "forbidden", "Your role does not allow this.")

    @app.errorhandler(404)
    def not_found(error):
        return error_page(404, "not_found", "There is nothing at this address.")

    @app.errorhandler(405)
    def method_not_allowed(error):
        body, status = error_page(405, "method_not_allowed", "That method is not allowed here.")
        response = app.make_response((body, status))
        response.headers["Allow"] = ", ".join(sorted(getattr(error, "valid_methods", None) or []))
        return response

    @app.errorhandler(413)
    def too_large(error):
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return error_page(
            413,
            "request_too_large",
            f"The request is larger than the {limit:,} bytes this server accepts; "
            "send less at a time (smaller batches, a smaller file)."
            if limit
            else "The request is larger than this server accepts.",
        )

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        """A service refused and the page did not handle it itself (a form that re-shows
        what was typed does): not found, not allowed, changed meanwhile, or invalid, answered
        in one place for every page. The API blueprint answers the same errors in JSON."""
        db.session.rollback()
        if isinstance(error, NotFoundError):
            return error_page(404, error.code, "There is nothing at this address.")
        if isinstance(error, PermissionDenied):
            return error_page(403, error.code, "Your role does not allow this.")
        return error_page(error.status, error.code, error.message)

    @app.errorhandler(OperationalError)
    def database_error(error: OperationalError):
        """SQLite's one writer was held past the busy timeout (a long import, a shell left in a
        write transaction): the request changed nothing, and trying again shortly will work,
        so it is a 503 with Retry-After, not a 500. Any other database error stays a 500."""
        db.session.rollback()
        if not is_database_busy(error):
            raise error
        body, status = error_page(
            503, "database_busy", "The database is busy with other work; try again in a moment."
        )
        response = app.make_response((body, status))
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return error_page(500, "server_error", "Something went wrong on our side.")
