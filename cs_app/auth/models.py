"""Users, API tokens and the recent failed sign-ins that throttle password guessing."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cs_app.auth.permissions import can_lead
from cs_app.db_types import UTCDateTime, utcnow
from cs_app.extensions import db

ROLES = ("admin", "lead", "csm", "viewer")
ROLE_LABELS = {"admin": "Admin", "lead": "CS lead", "csm": "CSM", "viewer": "Viewer"}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="csm")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of every session's and remember-me cookie's identity (``get_id``): raising it on
    # sign-out, a password, role or active change ends all of the user's sessions at once.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", lazy="select")

    @property
    def is_active(self) -> bool:  # flask-login: inactive users cannot sign in
        return self.active

    def get_id(self) -> str:
        """Flask-Login's alternative id: the user and the session version, so a session or
        remember-me cookie made before the version was raised no longer loads anyone."""
        return f"{self.id}:{self.session_version}"

    @property
    def can_edit_everything(self) -> bool:
        return can_lead(self)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiToken(db.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens", lazy="joined")


class LoginFailure(db.Model):
    """One failed sign-in, kept for the throttle window (``LOGIN_THROTTLE_WINDOW_SECONDS``)
    and then pruned. Counted per client address, per client and account, and overall, so
    throttling works across processes and never locks an account for every client."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_client", "client", "failed_at"),
        Index("ix_login_failures_client_account", "client", "account_key", "failed_at"),
        Index("ix_login_failures_failed_at", "failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the lower-cased address typed: no list of typed addresses (or of passwords
    # typed into the email field) is kept, and unknown addresses count like known ones
    account_key: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
