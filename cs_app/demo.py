"""Placeholder."""
DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = []


def load_demo(now, echo=print):
    pass
