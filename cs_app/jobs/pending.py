"""Queue accounts for the catch-up health recompute (``recompute-pending-health``).

New and changed accounts go through it so their signals — and with them the trigger rules that
read them, such as the welcome sequence — do not wait for the nightly recompute. An account
page without a score asks ``jobs.catch_up.score_due`` when the score will come.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cs_app.jobs.models import PendingRecompute
from cs_app.sql import insert_rows


def queue_recompute(account_ids: Iterable[int], *, now: datetime) -> None:
    """Insert-or-ignore, so an account already waiting keeps its place in the queue."""
    rows = [{"account_id": account_id, "since": now} for account_id in sorted(set(account_ids))]
    insert_rows(
        PendingRecompute.__table__,
        rows,
        lambda statement: statement.on_conflict_do_nothing(index_elements=["account_id"]),
    )
