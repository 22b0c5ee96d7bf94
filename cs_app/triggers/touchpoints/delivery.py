"""Sending due touchpoints: email over SMTP, in-app messages as a signed webhook, internal
alerts and call tasks as in-app alerts; failures retry with backoff, then go dead and alert a
person.

**No touchpoint is sent twice**, with any number of workers:

1. *Claim*: one UPDATE marks a small batch of due rows with this run's claim token and a short
   lease (``claimed_until``), choosing them with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (on
   SQLite the single writer serialises the statement) and re-checking the due predicate in the
   UPDATE itself; then COMMIT. Another worker only takes a row whose lease has expired.
2. *Send* each message outside any transaction or lock, after renewing its lease (a row whose
   lease was lost to another worker is skipped).
3. *Record* per message: sent (with the rendered text), or a failure with the next attempt
   time from ``retry.next_attempt_delay``, or dead, or failed when retrying cannot help (no
   address, a template that does not render, a name or address that cannot be a header);
   COMMIT.

**One bad touchpoint never blocks the rest**: whatever goes wrong while one message is loaded,
built or sent — foreseen or not — becomes that touchpoint's readable ``last_error`` and its
retry (an unforeseen error is retried, then goes dead, like a refusing server), and the run
goes on to the next message.

A worker that crashes after claiming leaves its rows claimed until the lease expires; the next
run takes them, so nothing is lost. The one window left is a crash after the receiver accepted
a message but before step 3 committed: that message is sent again after the lease, with the
same Message-ID (``X-CS-App-Delivery`` on the webhook), so the receiver can drop it.

``now`` is the job's start; the clock used for leases and due times moves on from it with
the real time that passes, so a long run never claims with a stale clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from cs_app.accounts.models import Account
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.header_text import breaks_header, one_line
from cs_app.jobs.lease import WORKER
from cs_app.sql import on_postgresql
from cs_app.triggers.alerts.service import create_alert
from cs_app.triggers.touchpoints.models import OutboxMessage, Touchpoint
from cs_app.triggers.touchpoints.retry import next_attempt_delay
from cs_app.triggers.touchpoints.sandbox import RenderedMessage, TemplateProblem
from cs_app.triggers.touchpoints.service import Outgoing, load_outgoing, render_outgoing

SEND_TIMEOUT_SECONDS = 30  # per network operation; far below the claim lease
SIGNATURE_HEADER = "X-CS-App-Signature"
DELIVERY_HEADER = "X-CS-App-Delivery"
MAX_ERROR = 2000

T = Touchpoint.__table__.c
TABLE = Touchpoint.__table__


class SendError(Exception):
    """A send that did not work; ``permanent`` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Outcome:
    sent: bool
    rendered: RenderedMessage | None = None
    error: str | None = None
    permanent: bool = False


class _Clock:
    """The job's ``now``, moving on with the real time that passes during the run."""

    def __init__(self, start: datetime):
        self.start = start
        self.began = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


def _due(clock: datetime):
    return (
        T.status == "scheduled",
        T.next_attempt_at <= clock,
        or_(T.claimed_until.is_(None), T.claimed_until < clock),
    )


def claim_due(claim: str, *, clock: datetime, lease: timedelta, limit: int) -> list[int]:
    """Mark up to ``limit`` due touchpoints as this claim's and commit; their ids.

    PostgreSQL: lock the candidates with ``FOR UPDATE SKIP LOCKED`` (rows another worker is
    claiming are passed over, not waited for), then update exactly those. (One ``UPDATE …
    WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`` can claim more than n rows: the
    planner may rescan the subquery.) SQLite: a single UPDATE, which takes the one write lock
    before it reads. Both re-check the due predicate in the UPDATE.
    """
    candidates = select(T.id).where(*_due(clock)).order_by(T.next_attempt_at, T.id).limit(limit)
    claiming = update(TABLE).values(claimed_by=claim, claimed_until=clock + lease)
    db.session.commit()
    if on_postgresql():
        locked = list(db.session.scalars(candidates.with_for_update(skip_locked=True)))
        ids = (
            list(db.session.scalars(claiming.where(T.id.in_(locked), *_due(clock)).returning(T.id)))
            if locked
            else []
        )
    else:
        ids = list(
            db.session.scalars(
                claiming.where(T.id.in_(candidates.scalar_subquery()), *_due(clock)).returning(T.id)
            )
        )
    db.session.commit()
    return sorted(ids)


def _renew(touchpoint_id: int, claim: str, *, clock: datetime, lease: timedelta) -> bool:
    """Extend this claim's lease just before sending; False when the row is no longer ours."""
    renewed = db.session.execute(
        update(TABLE)
        .where(T.id == touchpoint_id, T.claimed_by == claim, T.status == "scheduled")
        .values(claimed_until=clock + lease)
    ).rowcount
    db.session.commit()
    return renewed == 1


# --- transports -----------------------------------------------------------------------------


class Mailer:
    """One SMTP connection reused for a run's messages, reopened after any error."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        connection = smtplib.SMTP(
            config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=SEND_TIMEOUT_SECONDS
        )
        try:
            if config.get("SMTP_TLS"):
                connection.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USER"):
                connection.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def send(self, message: EmailMessage) -> None:
        try:
            if self.connection is None:
                self.connection = self._connect()
            self.connection.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            self.close()
            codes = ", ".join(
                f"{code} {text.decode(errors='replace')}"
                for code, text in error.recipients.values()
            )
            raise SendError(f"SMTP refused the recipient: {codes}") from error
        except smtplib.SMTPResponseException as error:
            self.close()
            text = (
                error.smtp_error.decode(errors="replace")
                if isinstance(error.smtp_error, bytes)
                else str(error.smtp_error)
            )
            raise SendError(f"SMTP {error.smtp_code} {text}") from error
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise SendError(
                f"SMTP {self.config['SMTP_HOST']}:{self.config['SMTP_PORT']}: "
                f"{type(error).__name__}: {error}"
            ) from error

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


class Outbox:
    """The development outbox in place of SMTP while no SMTP host is configured: each email is
    written as it would have been sent to ``outbox_messages`` (admins read it at
    ``/admin/outbox``). The row joins the caller's transaction, so it is committed together
    with its touchpoint's "sent" and never kept twice."""

    def __init__(self, clock: Callable[[], datetime]):
        self.clock = clock

    def send(self, message: EmailMessage) -> None:
        message_id = str(message["Message-ID"])
        db.session.add(
            OutboxMessage(
                touchpoint_id=db.session.scalar(
                    select(Touchpoint.id).where(Touchpoint.message_id == message_id)
                ),
                message_id=message_id,
                mail_from=str(message["From"] or ""),
                to=str(message["To"] or ""),
                subject=str(message["Subject"] or ""),
                headers="\n".join(f"{name}: {value}" for name, value in message.items()),
                raw=message.as_string(),
                created_at=self.clock(),
            )
        )
        db.session.flush()

    def close(self) -> None:
        """Nothing to close; the same interface as :class:`Mailer`."""


def mail_transport(config: dict[str, Any], *, clock: Callable[[], datetime]) -> Mailer | Outbox:
    """SMTP when ``SMTP_HOST`` (``CS_APP_SMTP_HOST``) is set, else the development outbox."""
    return Mailer(config) if config.get("SMTP_HOST") else Outbox(clock)


def describe_mail_transport(config: dict[str, Any]) -> str:
    """What ``cs-app serve`` prints about where email goes."""
    if config.get("SMTP_HOST"):
        return f"SMTP {config['SMTP_HOST']}:{config['SMTP_PORT']}"
    return "development outbox (/admin/outbox) — set CS_APP_SMTP_HOST to send"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: urllib would re-send a POST as a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def sign(body: bytes, secret: str) -> str:
    """The ``X-CS-App-Signature`` value: HMAC-SHA256 of the raw body, hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(config: dict[str, Any], payload: dict[str, Any], *, delivery_id: str) -> None:
    url, secret = config.get("WEBHOOK_URL"), config.get("WEBHOOK_SECRET")
    if not url or not secret:
        raise SendError(
            "The in-app webhook is not configured: set CS_APP_WEBHOOK_URL and "
            "CS_APP_WEBHOOK_SECRET, then retry.",
            permanent=True,
        )
    if not url.startswith(("http://", "https://")):
        raise SendError(f"CS_APP_WEBHOOK_URL must be an http(s) URL, not {url!r}.", permanent=True)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "cs-app touchpoints",
            SIGNATURE_HEADER: sign(body, secret),
            DELIVERY_HEADER: delivery_id,
        },
    )
    try:
        with _OPENER.open(request, timeout=SEND_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        detail = error.read(300).decode(errors="replace").strip()
        raise SendError(
            f"The webhook answered {error.code}" + (f": {detail}" if detail else "")
        ) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SendError(f"The webhook could not be reached: {reason}") from error
    if not 200 <= status < 300:
        raise SendError(f"The webhook answered {status}")


# --- one message ----------------------------------------------------------------------------


def _address(who: str, address: str, name: str | None = None) -> Address:
    """A header address; a value that cannot be one is a permanent failure saying whose."""
    if breaks_header(address) or breaks_header(name or ""):
        part = "email address" if breaks_header(address) else "name"
        raise SendError(
            f"The {who}'s {part} contains a line break or control character, which cannot go "
            f"in an email header. Correct the {who}'s {part}, then retry.",
            permanent=True,
        )
    try:
        return Address(display_name=name or "", addr_spec=address)
    except Exception as error:  # the email package's parser raises several kinds
        raise SendError(
            f"The {who}'s email address {address!r} is not a usable address ({error}). "
            f"Correct it, then retry.",
            permanent=True,
        ) from error


def _sender(config: dict[str, Any]) -> str:
    sender = config.get("MAIL_FROM") or ""
    if not sender or breaks_header(sender):
        raise SendError(
            "CS_APP_MAIL_FROM is not set or is not one line; set it, then retry.", permanent=True
        )
    return sender


def _email(
    config: dict[str, Any],
    message: Outgoing,
    rendered: RenderedMessage,
    *,
    to_email: str | None,
    to_name: str | None,
    clock: datetime,
    reply_to: str | None = None,
) -> EmailMessage:
    """The message with its headers. Display names go in as ``Address`` objects, so a name
    with non-ASCII letters is sent as an RFC 2047 encoded word; the subject is made one line."""
    if not to_email:
        raise SendError("The recipient has no email address.", permanent=True)
    email = EmailMessage()
    try:
        email["From"] = _sender(config)
    except ValueError as error:
        raise SendError(
            f"CS_APP_MAIL_FROM is not a usable address ({error}); set it, then retry.",
            permanent=True,
        ) from error
    email["To"] = _address("recipient", to_email, to_name)
    if reply_to and reply_to != to_email:
        email["Reply-To"] = _address("CSM", reply_to)
    email["Subject"] = one_line(rendered.subject)
    email["Date"] = format_datetime(clock)
    email["Message-ID"] = message.message_id
    email.set_content(rendered.body)
    return email


def _webhook_payload(
    message: Outgoing, rendered: RenderedMessage, clock: datetime
) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "touchpoint_id": message.id,
        "channel": message.channel,
        "template": message.template_key,
        "account": {"external_id": message.account["external_id"], "name": message.account["name"]},
        "recipient": {
            "kind": message.recipient_kind,
            "email": message.recipient_email,
            "name": message.recipient_name,
        },
        "subject": rendered.subject,
        "body": rendered.body,
        "body_html": rendered.body_html,
        "sent_at": clock.isoformat(),
    }


def _handler(message: Outgoing) -> int:
    if message.handler_id is None:
        if message.recipient_kind == "pool_assignee":  # retried: someone may take the item
            raise SendError("Nobody has taken the queue item yet; it goes to whoever does.")
        raise SendError(
            "Nobody handles this account (no CSM, no queue assignee) to receive it.", permanent=True
        )
    return message.handler_id


def _alert(message: Outgoing, kind: str, rendered: RenderedMessage, now: datetime) -> None:
    """The in-app half of an internal alert or call task; its dedupe key makes it once."""
    create_alert(
        user_id=_handler(message),
        kind=kind,
        dedupe_key=f"touchpoint:{message.id}",
        title=rendered.subject,
        body=rendered.body,
        account_id=message.account_id,
        queue_item_id=message.queue_item_id,
        touchpoint_id=message.id,
        now=now,
    )


def send_one(
    message: Outgoing, mailer: Mailer | Outbox, config: dict[str, Any], *, clock: _Clock
) -> Outcome:
    """Render and send one touchpoint. An internal alert's in-app alert is committed before
    its email, so a mail failure never hides it; a call task is an alert only, recorded by
    the caller in the same transaction as its "sent"."""
    try:
        rendered = render_outgoing(message, html=message.channel == "in_app")
    except TemplateProblem as problem:
        return Outcome(
            False,
            error=f"The template does not render: {problem.message}. Fix the template, then retry.",
            permanent=True,
        )
    except Exception as error:  # one message's surprise never stops the run
        db.session.rollback()
        return Outcome(False, error=unforeseen("rendering", error))
    try:
        if message.channel == "email" and message.recipient_kind == "pool_assignee":
            _handler(message)
            mailer.send(
                _email(
                    config,
                    message,
                    rendered,
                    to_email=message.handler_email,
                    to_name=message.handler_name,
                    clock=clock(),
                )
            )
        elif message.channel == "email":
            mailer.send(
                _email(
                    config,
                    message,
                    rendered,
                    to_email=message.recipient_email,
                    to_name=message.recipient_name,
                    clock=clock(),
                    reply_to=message.csm_email,
                )
            )
        elif message.channel == "in_app":
            post_webhook(
                config, _webhook_payload(message, rendered, clock()), delivery_id=message.message_id
            )
        elif message.channel == "internal_alert":
            _alert(message, "internal_alert", rendered, clock())
            db.session.commit()
            mailer.send(
                _email(
                    config,
                    message,
                    rendered,
                    to_email=message.handler_email,
                    to_name=message.handler_name,
                    clock=clock(),
                )
            )
        elif message.channel == "call_task":
            _alert(message, "call_task", rendered, clock())
        else:
            raise SendError(f"Unknown channel {message.channel!r}.", permanent=True)
    except SendError as error:
        db.session.rollback()
        return Outcome(False, rendered, readable(str(error)), error.permanent)
    except Exception as error:  # one message's surprise never stops the run
        db.session.rollback()
        mailer.close()  # the connection may be mid-message
        return Outcome(False, rendered, unforeseen("sending", error))
    return Outcome(True, rendered)


def readable(text: str) -> str:
    """An error as ``last_error`` holds it: no NUL (PostgreSQL refuses it), bounded."""
    return text.replace("\x00", "\\x00")[:MAX_ERROR]


def unforeseen(step: str, error: BaseException) -> str:
    """An error nobody classified: said plainly, retried by the usual schedule."""
    return readable(
        f"Unexpected error while {step} this touchpoint: {type(error).__name__}: {error}. "
        "It is retried with the usual backoff; if it keeps failing, report it with this text."
    )


def _failure_owners(message: Outgoing) -> list[int]:
    if message.owner_ids:
        return message.owner_ids
    return list(
        db.session.scalars(
            select(User.id).where(User.role == "lead", User.active.is_(True)).order_by(User.id)
        )
    )


def record(message: Outgoing, outcome: Outcome, *, clock: datetime, alert: bool = True) -> str:
    """Write what happened to one touchpoint and commit; answers the count key."""
    attempts = message.attempts + 1
    text = (
        {"subject": outcome.rendered.subject, "body": outcome.rendered.body}
        if outcome.rendered
        else {}
    )
    if outcome.sent:
        values, result = {"status": "sent", "sent_at": clock, "last_error": None, **text}, "sent"
    else:
        delay = None if outcome.permanent else next_attempt_delay(attempts)
        if delay is not None:
            values = {
                "last_error": outcome.error,
                "next_attempt_at": clock + delay,
                "claimed_by": None,
                **text,
            }
            result = "retrying"
        else:
            result = "failed" if outcome.permanent else "dead"
            values = {"status": result, "last_error": outcome.error, **text}
            if alert:
                _alert_failure(message, result, attempts, outcome.error or "", clock)
    db.session.execute(
        update(TABLE)
        .where(T.id == message.id)
        .values(attempts=attempts, claimed_until=None, **values)
    )
    db.session.commit()
    return result


def _record_safely(message: Outgoing, outcome: Outcome, *, clock: datetime) -> str:
    """``record``, and when writing the text or the alert fails, the bare outcome (the error
    in ``last_error``) so the run goes on; only a database that takes nothing stops it."""
    try:
        return record(message, outcome, clock=clock)
    except Exception as error:  # this message's text or alert, not the run
        db.session.rollback()
        bare = Outcome(
            outcome.sent,
            error=None
            if outcome.sent
            else readable(
                f"{outcome.error} (and while recording: {type(error).__name__}: {error})"
            ),
            permanent=outcome.permanent,
        )
        return record(message, bare, clock=clock, alert=False)


def _unloadable(touchpoint_id: int) -> Outgoing:
    """The bare facts of a touchpoint whose full message could not be loaded: enough to
    record the failure and alert the account's CSM (or the leads)."""
    a = Account.__table__.c
    row = db.session.execute(
        select(
            T.id,
            T.channel,
            T.status,
            T.message_id,
            T.attempts,
            T.account_id,
            T.recipient_kind,
            T.recipient_email,
            T.recipient_name,
            a.name,
            a.external_id,
            a.csm_id,
        )
        .join(Account.__table__, a.id == T.account_id)
        .where(T.id == touchpoint_id)
    ).one()
    return Outgoing(
        id=row.id,
        channel=row.channel,
        status=row.status,
        message_id=row.message_id,
        attempts=row.attempts,
        account_id=row.account_id,
        account={"name": row.name, "external_id": row.external_id},
        recipient_kind=row.recipient_kind,
        recipient_email=row.recipient_email,
        recipient_name=row.recipient_name,
        template_key=None,
        subject_source=None,
        body_source=None,
        stored_subject=None,
        stored_body=None,
        context={},
        handler_id=None,
        handler_email=None,
        handler_name=None,
        csm_email=None,
        queue_item_id=None,
        owner_ids=[row.csm_id] if row.csm_id is not None else [],
    )


def _load(ids: list[int], *, today: date) -> tuple[list[Outgoing], dict[int, str]]:
    """The batch's messages in one load; when that fails, one by one, so a touchpoint whose
    data breaks the load is answered apart (id → error) and the others still go."""
    try:
        messages = load_outgoing(ids, today=today)
        db.session.commit()
        return messages, {}
    except Exception:  # some row of the batch: find which, below
        db.session.rollback()
    messages, broken = [], {}
    for touchpoint_id in ids:
        try:
            messages.extend(load_outgoing([touchpoint_id], today=today))
            db.session.commit()
        except Exception as error:  # this touchpoint's data, not the run
            db.session.rollback()
            broken[touchpoint_id] = unforeseen("loading", error)
    return messages, broken


def _alert_failure(
    message: Outgoing, status: str, attempts: int, error: str, now: datetime
) -> None:
    who = message.recipient_name or message.recipient_email or "nobody"
    account = message.account["name"]
    if status == "dead":
        title = f"Touchpoint to {who} at {account} could not be sent ({attempts} attempts)"
    else:
        title = f"Touchpoint to {who} at {account} cannot be sent"
    for user_id in _failure_owners(message):
        create_alert(
            user_id=user_id,
            kind="dead_touchpoint",
            dedupe_key=f"touchpoint:{message.id}:{status}:{attempts}",
            title=title,
            body=f"{error}\n\nOpen the touchpoint to retry or cancel it.",
            account_id=message.account_id,
            touchpoint_id=message.id,
            now=now,
        )


# --- the job --------------------------------------------------------------------------------


def deliver_due_touchpoints(*, now: datetime, limit: int | None = None) -> dict[str, int]:
    """Claim, send and record due touchpoints in batches until none is due or ``limit`` (the
    configured maximum per run by default) have been claimed."""
    config = current_app.config
    clock = _Clock(now)
    claim = f"{WORKER}:{uuid.uuid4().hex[:8]}"
    lease = timedelta(seconds=int(config["DELIVERY_LEASE_SECONDS"]))
    limit = limit or int(config["DELIVERY_MAX_PER_RUN"])
    batch = max(1, int(config["DELIVERY_BATCH_SIZE"]))
    counts = dict.fromkeys(("claimed", "sent", "retrying", "dead", "failed", "lost_claim"), 0)
    db.session.commit()
    mailer = mail_transport(config, clock=clock)
    try:
        while counts["claimed"] < limit:
            ids = claim_due(
                claim, clock=clock(), lease=lease, limit=min(batch, limit - counts["claimed"])
            )
            if not ids:
                break
            counts["claimed"] += len(ids)
            messages, broken = _load(ids, today=clock().date())
            for touchpoint_id, error in broken.items():
                if not _renew(touchpoint_id, claim, clock=clock(), lease=lease):
                    counts["lost_claim"] += 1
                    continue
                outcome = Outcome(False, error=error)
                counts[_record_safely(_unloadable(touchpoint_id), outcome, clock=clock())] += 1
            for message in messages:
                if not _renew(message.id, claim, clock=clock(), lease=lease):
                    counts["lost_claim"] += 1
                    continue
                outcome = send_one(message, mailer, config, clock=clock)
                counts[_record_safely(message, outcome, clock=clock())] += 1
    finally:
        mailer.close()
    return counts
