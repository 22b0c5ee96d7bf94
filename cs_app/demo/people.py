"""The demo's people: who signs in (one password for all), which CSMs cover which segment,
and who is out of office.

Users are keyed on email, so loading again finds them and creates nobody twice.
"""

from __future__ import annotations

from cs_app.auth.service import create_user, find_user
from cs_app.demo.context import DemoContext
from cs_app.extensions import db

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    ("admin@demo.cs-app.example", "admin", "Alex Morgan"),
    ("lead@demo.cs-app.example", "lead", "Priya Raman"),
    ("maya@demo.cs-app.example", "csm", "Maya Okafor"),
    ("daniel@demo.cs-app.example", "csm", "Daniel Brooks"),
    ("sofia@demo.cs-app.example", "csm", "Sofia Lindqvist"),
    ("tom@demo.cs-app.example", "csm", "Tom Becker"),
    ("viewer@demo.cs-app.example", "viewer", "Victor Hale"),
]
LEAD_EMAIL = "lead@demo.cs-app.example"
AWAY_EMAIL = "tom@demo.cs-app.example"  # out of office: shows the away flag in pools
CSMS_BY_SEGMENT = {
    "Enterprise": ("maya@demo.cs-app.example", "daniel@demo.cs-app.example"),
    "Mid-Market": (
        "daniel@demo.cs-app.example",
        "sofia@demo.cs-app.example",
        "tom@demo.cs-app.example",
    ),
    "SMB": ("sofia@demo.cs-app.example", "tom@demo.cs-app.example"),
}


def ensure_users(ctx: DemoContext) -> None:
    """Create the demo users that are missing and put every one into ``ctx.users``."""
    for email, role, name in DEMO_USERS:
        user = find_user(email)
        if user is None:
            user = create_user(email, role=role, name=name, password=DEMO_PASSWORD, now=ctx.now)
            user.away = email == AWAY_EMAIL
            ctx.count("users")
        ctx.users[email] = user
    db.session.flush()
