"""The demo portfolio: users, 46 accounts with contacts, success plans in every state, their
usage and 90 days of health history, and the journey triggers already fired.

``load_demo(now)`` is deterministic (every random choice comes from a seeded ``random.Random``
and every date is relative to ``now``) and idempotent (users are keyed on email, accounts on
``external_id``; what exists already is left alone). The 46 accounts are the seed guide's two
worked examples, TechCorp Inc. (enterprise high-touch) and GrowthStack Marketing (mid-market
hybrid), 42 generated accounts across every segment, engagement model and lifecycle stage, and
two new customers whose first days the journey rules react to.

The package is split by what each part builds: ``people`` (users), ``names`` (the word lists),
``specs`` (what each account is), ``accounts`` (accounts and contacts), ``plans`` (success
plans), ``usage`` (events and metric values), ``history`` (the replayed health history and the
override), ``journeys`` (pools and today's events), ``context`` (the state one load carries) and
``load`` (the order it all happens in).
"""

from cs_app.demo.load import load_demo
from cs_app.demo.people import DEMO_PASSWORD, DEMO_USERS, LEAD_EMAIL

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "LEAD_EMAIL", "load_demo"]
