"""Queue accounts for the catch-up health recompute (``recompute-pending-health``).

New and changed accounts go through it so their signals — and with them the trigger rules that
read them, such as the welcome sequence — do not wait for the nightly recompute.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cs_app.extensions import db
from cs_app.jobs.models import PendingRecompute
from cs_app.sql import insert_for


def queue_recompute(account_ids: Iterable[int], *, now: datetime) -> None:
    """Insert-or-ignore, so an account already waiting keeps its place in the queue."""
    rows = [{"account_id": account_id, "since": now} for account_id in sorted(set(account_ids))]
    if not rows:
        return
    statement = insert_for(PendingRecompute.__table__).on_conflict_do_nothing(
        index_elements=["account_id"]
    )
    for start in range(0, len(rows), 1000):
        db.session.execute(statement, rows[start : start + 1000])
