"""The sign-in wait: exponential per client and per (client, address), a global ceiling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cs_app.auth.throttling import FailureCount, ThrottlePolicy, backoff_seconds, seconds_to_wait

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(
    free_per_client_and_account=5,
    free_per_client=20,
    max_delay_seconds=900,
    global_ceiling=1000,
    global_delay_seconds=2,
)
NONE = FailureCount(failures=0, newest=None)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def wait(client_and_account=NONE, client=NONE, overall=NONE) -> int:
    return seconds_to_wait(
        client_and_account=client_and_account,
        client=client,
        overall=overall,
        policy=POLICY,
        now=NOW,
    )


def test_backoff_doubles_after_the_free_failures_up_to_the_maximum():
    assert [backoff_seconds(n, 5, 900) for n in range(4, 10)] == [0, 2, 4, 8, 16, 32]
    assert backoff_seconds(40, 5, 900) == 900


def test_no_failures_no_wait():
    assert wait() == 0


def test_the_client_and_address_wait_counts_from_the_newest_failure():
    assert wait(client_and_account=FailureCount(5, ago(0))) == 2
    assert wait(client_and_account=FailureCount(5, ago(1.5))) == 1
    assert wait(client_and_account=FailureCount(5, ago(2))) == 0
    assert wait(client_and_account=FailureCount(4, ago(0))) == 0


def test_the_client_wait_applies_to_every_address():
    assert wait(client=FailureCount(20, ago(0))) == 2
    assert wait(client=FailureCount(19, ago(0))) == 0


def test_the_global_ceiling_slows_everyone_briefly():
    assert wait(overall=FailureCount(999, ago(0))) == 0
    assert wait(overall=FailureCount(1000, ago(0))) == 2
    assert wait(overall=FailureCount(1000, ago(3))) == 0


def test_the_longest_wait_wins():
    assert wait(FailureCount(7, ago(0)), FailureCount(20, ago(0)), FailureCount(5000, ago(0))) == 8
