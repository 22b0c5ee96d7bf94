"""How long a sign-in attempt must wait, from the recent failures it is measured against.

Pure: no flask, no database. ``cs_app.auth.service`` counts the failures (per client address,
per client and account, overall) and asks :func:`seconds_to_wait`. The account is only ever
slowed *for the client that failed against it*, so hammering an address from one place never
locks its owner out from another; only the global ceiling slows everyone, and then only to
one attempt every few seconds overall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FailureCount:
    """Failures of one kind inside the window, and when the newest happened."""

    failures: int
    newest: datetime | None


@dataclass(frozen=True)
class ThrottlePolicy:
    free_per_client_and_account: int  # failures for one address from one client before waits
    free_per_client: int  # failures from one client, whatever the address, before waits
    max_delay_seconds: int  # the exponential wait never grows past this
    global_ceiling: int  # failures overall in the window before everyone is slowed
    global_delay_seconds: int  # then: one attempt this long after the newest failure


def backoff_seconds(failures: int, free: int, max_delay: int) -> int:
    """0 while ``failures`` is below ``free``; then 2, 4, 8 … seconds, at most ``max_delay``."""
    if failures < free:
        return 0
    return min(2 ** (failures - free + 1), max_delay)


def _remaining(newest: datetime | None, delay: int, now: datetime) -> int:
    if newest is None or delay <= 0:
        return 0
    left = (newest - now).total_seconds() + delay
    return max(0, math.ceil(left))


def seconds_to_wait(
    *,
    client_and_account: FailureCount,
    client: FailureCount,
    overall: FailureCount,
    policy: ThrottlePolicy,
    now: datetime,
) -> int:
    """Seconds before this client may try this address again (0: go ahead)."""
    waits = [
        _remaining(
            client_and_account.newest,
            backoff_seconds(
                client_and_account.failures,
                policy.free_per_client_and_account,
                policy.max_delay_seconds,
            ),
            now,
        ),
        _remaining(
            client.newest,
            backoff_seconds(client.failures, policy.free_per_client, policy.max_delay_seconds),
            now,
        ),
    ]
    if overall.failures >= policy.global_ceiling:
        waits.append(_remaining(overall.newest, policy.global_delay_seconds, now))
    return max(waits)
