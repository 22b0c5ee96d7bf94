"""A real SMTP server for the delivery tests: aiosmtpd on 127.0.0.1, on a free port, in a
thread of the test process, collecting what it accepts.

``MailSink`` accepts everything by default; ``fail_with = "451 ..."`` (or a 5xx) refuses every
message at DATA, ``delay`` slows each message down, and ``before_accept`` runs (in a worker
thread, so other sessions go on) after a message arrived and before the server answers — the
crash tests use it to hold a message or to lock the database at exactly that moment.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


class MailSink:
    """The aiosmtpd handler: accepts (or refuses) messages and remembers the accepted ones."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refused = 0
        self.fail_with: str | None = None
        self.delay = 0.0
        self.before_accept: Callable[[EmailMessage], str | None] | None = None
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd)
        message = message_from_bytes(envelope.content, policy=policy.default)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.before_accept is not None:
            answer = await asyncio.get_running_loop().run_in_executor(
                None, self.before_accept, message
            )
            if answer:
                return answer
        with self.lock:
            if self.fail_with:
                self.refused += 1
                self.arrived.notify_all()
                return self.fail_with
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), message))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def message_ids(self) -> Counter:
        with self.lock:
            return Counter(item.message_id for item in self.received)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Block until at least ``count`` messages were accepted; all of them."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"the SMTP server got {len(self.received)} messages in "
                    f"{timeout} s, expected {count}"
                )
            return list(self.received)


@contextmanager
def smtp_server() -> Iterator[tuple[MailSink, int]]:
    """``with smtp_server() as (sink, port):`` a running server on 127.0.0.1:port."""
    sink = MailSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
