"""Pure retry policy for touchpoint delivery: when to try again, and when to give up."""

from __future__ import annotations

from datetime import timedelta

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(BACKOFF) + 1


def next_attempt_delay(attempts_made: int) -> timedelta | None:
    """Delay before the next try after ``attempts_made`` failed tries; None = give up (dead)."""
    if attempts_made < 1:
        raise ValueError("at least one attempt has been made when a retry is asked for")
    if attempts_made >= MAX_ATTEMPTS:
        return None
    return BACKOFF[attempts_made - 1]
