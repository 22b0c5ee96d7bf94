"""Evaluate the enabled scheduled rules over every account, set-wise.

Rules that share a once-only policy (and cooldown) are evaluated in batches of ``BATCH``, each
batch in a handful of statements however many accounts there are:

1. one ``INSERT … SELECT`` over ``account_signals`` evaluates every rule's compiled condition
   (``condition_sql``) once per account and writes the matches — rule, account and
   ``matched``, the JSON of the signal values the condition read, built in SQL — to a
   temporary table. One pass over the accounts serves the whole batch (a pass per rule cost
   SQLite more than all the conditions together; ``_hits``);
2. one ``INSERT INTO rule_firings … SELECT`` from the matches makes the new firings, guarded
   by the once-only policy as a NOT EXISTS over earlier firings of that rule and account
   (``refused_by_policy``, which agrees with ``rules.may_fire`` — a test runs both on
   generated histories). The partial unique index ``uq_rule_firings_open`` makes the insert
   skip (ON CONFLICT DO NOTHING) an account that a concurrent evaluation has just fired for,
   so two evaluations racing never make two open firings;
3. one UPDATE closes the batch's open firings that hold no queue item and whose account is no
   longer among the matches (a routed firing stays open until a person resolves its item).

The matches also give the counts (matched, and suppressed: matched but refused). Then the new
firings' actions run (``executor``). Re-running in the same state creates nothing: every
account that matches is refused by its open firing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable
from sqlalchemy.types import JSON

from cs_app.accounts.models import Account
from cs_app.accounts.signal_catalog import BOOLEAN, METRIC_PREFIX, SIGNALS
from cs_app.accounts.usage_models import AccountSignals
from cs_app.db_types import UTCDateTime
from cs_app.extensions import db
from cs_app.sql import (
    days_between,
    insert_for,
    json_boolean,
    json_object,
    on_postgresql,
    utc_day_start_before,
)
from cs_app.triggers.pools.models import QueueItem, QueueItemReason
from cs_app.triggers.rules import rules
from cs_app.triggers.rules.condition_sql import compile_condition, signal_column
from cs_app.triggers.rules.executor import execute_actions
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.rules.service import signal_info

COUNT_KEYS = (
    "rules",
    "matched",
    "firings_created",
    "suppressed",
    "skipped_churned",
    "snoozed",
    "closed",
    "routed",
    "merged",
    "touchpoints",
    "actions_created",
    "stages_set",
    "rules_skipped",
)
BATCH = 50  # rules evaluated in one pass over account_signals

# Matches of the batch being evaluated: a temporary table, private to the connection and
# emptied after each batch, so counting, the policy check and closing read the matches
# instead of evaluating the conditions again. Its own MetaData keeps it out of migrations.
MATCHES = Table(
    "rule_matches",
    MetaData(),
    Column("rule_id", Integer, primary_key=True),
    Column("account_id", Integer, primary_key=True),
    Column("matched", JSON),
    prefixes=["TEMPORARY"],
)
YEAR = 365


@dataclass(frozen=True)
class RuleSpec:
    """What evaluation needs of a rule, read once with Core (no ORM objects to go stale)."""

    id: int
    condition: dict
    actions: list
    once_policy: str
    cooldown_days: int
    include_churned: bool = False


# --- SQL pieces -----------------------------------------------------------------------------


def renewal_cycle_start(renewal_date, now: datetime):
    """Start of the contract year that holds ``now``: the renewal date minus 365 days, a year
    further back for every year the renewal lies beyond that (``rules.may_fire``'s loop,
    closed form: k = max(1, ⌈days to renewal / 365⌉))."""
    days_to_renewal = days_between(renewal_date, literal(now.date(), Date))
    years = case((days_to_renewal > YEAR, (days_to_renewal + (YEAR - 1)) // YEAR), else_=1)
    return utc_day_start_before(renewal_date, years * YEAR)


def refused_by_policy(
    rule_id,
    policy: str,
    cooldown_days: int,
    *,
    account_id,
    renewal_date,
    now: datetime,
    among_rules: Sequence[int] | None = None,
):
    """True where ``rules.may_fire`` refuses the rule for the account: an earlier firing of the
    rule for that account that is open (every policy), or that falls in the cooldown, in the
    current renewal cycle, or at all (``once_ever``). ``rule_id``, ``account_id`` and
    ``renewal_date`` are columns of the outer query; the NOT of this is the insert's guard.
    ``among_rules`` (the rules ``rule_id`` can be) changes nothing in the answer but lets
    PostgreSQL read only those rules' firings when it plans the check as an anti-join."""
    if policy not in rules.POLICIES:
        raise ValueError(f"unknown once-only policy {policy!r}")
    firings = RuleFiring.__table__.alias("earlier")
    fired_at = firings.c.fired_at
    if policy == "once_ever":
        blocking = true()
    elif policy == "cooldown":
        blocking = or_(firings.c.status == "open", fired_at > now - timedelta(days=cooldown_days))
    elif policy == "once_per_renewal_cycle":
        blocking = or_(
            firings.c.status == "open",
            and_(renewal_date.is_(None), fired_at >= now - timedelta(days=YEAR)),
            and_(renewal_date.is_not(None), fired_at >= renewal_cycle_start(renewal_date, now)),
        )
    else:
        blocking = firings.c.status == "open"
    check = exists().where(
        firings.c.rule_id == rule_id, firings.c.account_id == account_id, blocking
    )
    if among_rules is not None:
        check = check.where(firings.c.rule_id.in_(list(among_rules)))
    return check


def snoozed(rule_id, account_id, now: datetime):
    """True where a resolved queue item of the rule for the account still snoozes it
    (``rules.skip_reason``'s "snoozed"): a reason of that rule whose ``snoozed_until`` lies
    ahead. ``rule_id`` and ``account_id`` are columns of the outer query."""
    reasons, items = QueueItemReason.__table__, QueueItem.__table__
    return (
        exists()
        .select_from(reasons.join(items, items.c.id == reasons.c.queue_item_id))
        .where(
            reasons.c.rule_id == rule_id,
            items.c.account_id == account_id,
            reasons.c.snoozed_until > now,
        )
    )


def churned_and_not_targeted(rule_id, account_id, targeting: Sequence[int]):
    """True where the account churned and the rule does not target churned accounts
    (``rules.skip_reason``'s "churned"); ``targeting`` lists the rules that do."""
    accounts = Account.__table__
    churned = exists().where(
        accounts.c.id == account_id, accounts.c.lifecycle_stage == rules.CHURNED
    )
    if not targeting:
        return churned
    return and_(rule_id.not_in(list(targeting)), churned)


def _drop_matches(condition) -> int:
    """Remove the matches where ``condition`` holds; how many there were."""
    return db.session.execute(delete(MATCHES).where(condition)).rowcount


def matched_json(condition: Mapping):
    """JSON of the signal values the condition reads, for one account row: why it fired."""
    pairs: list[Any] = []
    for key in rules.signals_used(condition):
        column = signal_column(key)
        if not key.startswith(METRIC_PREFIX) and SIGNALS[key].kind == BOOLEAN:
            column = json_boolean(column)
        pairs += [key, column]
    return json_object(*pairs)


# --- evaluation -----------------------------------------------------------------------------


def load_rules(rule_ids: Sequence[int] | None = None) -> list[RuleSpec]:
    r = Rule.__table__.c
    query = (
        select(r.id, r.condition, r.actions, r.once_policy, r.cooldown_days, r.include_churned)
        .where(r.enabled.is_(True), r.mode == "scheduled")
        .order_by(r.id)
    )
    if rule_ids is not None:
        query = query.where(r.id.in_(list(rule_ids)))
    return [
        RuleSpec(
            row.id,
            row.condition,
            list(row.actions or []),
            row.once_policy,
            row.cooldown_days or 0,
            bool(row.include_churned),
        )
        for row in db.session.execute(query)
    ]


def _valid(rule: RuleSpec) -> bool:
    """A stored condition that no longer validates (a signal left the catalog) is skipped,
    not half-compiled; the rules page shows it as invalid."""
    try:
        rules.validate_condition(rule.condition, signal_info)
    except rules.ConditionError:
        return False
    return rule.once_policy in rules.POLICIES


def _batches(specs: Sequence[RuleSpec]) -> list[list[RuleSpec]]:
    """Rules sharing a once-only policy (and cooldown), at most ``BATCH`` together: one pass
    over ``account_signals`` and one policy check serve them all."""
    groups: dict[tuple[str, int], list[RuleSpec]] = {}
    for rule in specs:
        cooldown = rule.cooldown_days if rule.once_policy == "cooldown" else 0
        groups.setdefault((rule.once_policy, cooldown), []).append(rule)
    return [
        group[start : start + BATCH]
        for group in groups.values()
        for start in range(0, len(group), BATCH)
    ]


def _ensure_matches_table() -> None:
    db.session.execute(CreateTable(MATCHES, if_not_exists=True))


def _hits(batch: Sequence[RuleSpec]):
    """The batch's matches as (rule_id, account_id, matched) rows, from one scan of
    ``account_signals`` that evaluates every condition once per account (a scan per rule cost
    SQLite more than all the conditions together). An account that matches nothing yields no
    row: PostgreSQL unnests the positions of the true conditions in an array of them; SQLite,
    without arrays, lists a ``{"r": rule id, "m": matched values}`` object per true condition
    in one text and expands it with ``json_each``.
    """
    signals = AccountSignals.__table__
    if on_postgresql():
        truths = postgresql.array([compile_condition(rule.condition) for rule in batch])
        found = (
            func.unnest(func.array_positions(truths, true()))
            .table_valued("position")
            .render_derived()
        )
        position = found.c.position
        rule_ids = postgresql.array([literal(rule.id, Integer) for rule in batch])
        matched = case(
            {index: matched_json(rule.condition) for index, rule in enumerate(batch, start=1)},
            value=position,
        )
        return (
            select(rule_ids[position], signals.c.account_id, matched)
            .select_from(signals)
            .join(found, true())
        )
    hits = [
        case(
            (
                compile_condition(rule.condition),
                json_object("r", literal(rule.id, Integer), "m", matched_json(rule.condition)),
            )
        )
        for rule in batch
    ]
    # printf, not a chain of ||, which nests too deep for SQLite's parser; a NULL %s (no
    # match) prints nothing
    listed = func.printf("%s" * len(hits), *(hit.op("||")(",") for hit in hits))
    found = func.json_each(
        literal("[").op("||")(func.rtrim(listed, ",")).op("||")("]")
    ).table_valued("value", joins_implicitly=True)
    return select(
        func.json_extract(found.c.value, "$.r"),
        signals.c.account_id,
        func.json_extract(found.c.value, "$.m"),
    ).select_from(signals, found)


def _insert_new_firings(batch: Sequence[RuleSpec], *, now: datetime) -> list[tuple[int, int]]:
    """The batch's matches that the once-only policy allows become firings; returns (id,
    rule id) of each. Firings of rules without actions are done at once."""
    firings = RuleFiring.__table__
    matches = MATCHES.c
    policy, cooldown = batch[0].once_policy, batch[0].cooldown_days
    source = MATCHES
    renewal_date = None
    if policy == "once_per_renewal_cycle":
        accounts = Account.__table__
        source = MATCHES.join(accounts, accounts.c.id == matches.account_id)
        renewal_date = accounts.c.renewal_date
    done_at_once = [rule.id for rule in batch if not rule.actions]
    finished = matches.rule_id.in_(done_at_once or [-1])
    query = (
        select(
            matches.rule_id,
            matches.account_id,
            literal(now, UTCDateTime()).label("fired_at"),
            literal("open", String).label("status"),
            literal("schedule", String).label("trigger"),
            matches.matched,
            case((finished, literal(now, UTCDateTime()))).label("actions_done_at"),
            case((finished, literal([], JSON())), else_=null()).label("action_results"),
        )
        .select_from(source)
        .where(
            ~refused_by_policy(
                matches.rule_id,
                policy,
                cooldown,
                account_id=matches.account_id,
                renewal_date=renewal_date,
                now=now,
                among_rules=[rule.id for rule in batch],
            )
        )
    )
    names = [
        "rule_id",
        "account_id",
        "fired_at",
        "status",
        "trigger",
        "matched",
        "actions_done_at",
        "action_results",
    ]
    statement = (
        insert_for(firings)
        .from_select(names, query)
        .on_conflict_do_nothing()
        .returning(firings.c.id, firings.c.rule_id)
    )
    return [(row.id, row.rule_id) for row in db.session.execute(statement)]


def _close_unmatched(batch: Sequence[RuleSpec], *, now: datetime) -> int:
    """Close the batch's open firings that hold no queue item and whose account no longer
    matches (false or unknown: only a true condition keeps a firing open)."""
    firings = RuleFiring.__table__
    reasons = QueueItemReason.__table__  # a firing that joined a queue item
    matches = MATCHES.c
    still_matches = exists().where(
        matches.rule_id == firings.c.rule_id, matches.account_id == firings.c.account_id
    )
    items = QueueItem.__table__
    routed = or_(
        exists().where(items.c.firing_id == firings.c.id),
        exists().where(reasons.c.firing_id == firings.c.id),
    )
    statement = (
        update(firings)
        .where(
            firings.c.rule_id.in_([rule.id for rule in batch]),
            firings.c.status == "open",
            ~routed,
            ~still_matches,
        )
        .values(status="closed", closed_at=now)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(statement).rowcount


def evaluate_batch(
    batch: Sequence[RuleSpec], *, now: datetime, counts: dict[str, int]
) -> list[int]:
    """Matches, new firings and closings of rules that share a once-only policy; returns the
    ids of new firings whose actions are still to run."""
    db.session.execute(
        insert(MATCHES).from_select(["rule_id", "account_id", "matched"], _hits(batch))
    )
    if on_postgresql():
        # autovacuum never analyses a temporary table: without statistics the planner takes
        # a few thousand matches for a hundred thousand and checks the policy by sorting
        # every firing of the table instead of probing the index for each match
        db.session.execute(text(f"ANALYZE {MATCHES.name}"))
    matched = db.session.scalar(select(func.count()).select_from(MATCHES))
    # churned accounts a rule does not target, then snoozed ones, leave the matches before the
    # once-only policy: counted apart, and an open firing of theirs without an item closes
    skipped = _drop_matches(
        churned_and_not_targeted(
            MATCHES.c.rule_id, MATCHES.c.account_id, [r.id for r in batch if r.include_churned]
        )
    )
    quiet = _drop_matches(snoozed(MATCHES.c.rule_id, MATCHES.c.account_id, now))
    created = _insert_new_firings(batch, now=now)
    counts["matched"] += matched
    counts["skipped_churned"] += skipped
    counts["snoozed"] += quiet
    counts["firings_created"] += len(created)
    counts["suppressed"] += matched - skipped - quiet - len(created)
    counts["closed"] += _close_unmatched(batch, now=now)
    db.session.execute(delete(MATCHES))
    with_actions = {rule.id for rule in batch if rule.actions}
    return [firing_id for firing_id, rule_id in created if rule_id in with_actions]


def evaluate_scheduled_rules(
    *, now: datetime, rule_ids: Sequence[int] | None = None
) -> dict[str, int]:
    """Every enabled scheduled rule (or those of ``rule_ids``) over every account; new
    firings run their actions. Returns the counts recorded on the job run."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    specs = load_rules(rule_ids)
    valid = [rule for rule in specs if _valid(rule)]
    counts["rules_skipped"] = len(specs) - len(valid)
    counts["rules"] = len(valid)
    new_ids: list[int] = []
    if valid:
        _ensure_matches_table()
        db.session.execute(delete(MATCHES))  # nothing left over from an interrupted run
    for batch in _batches(valid):
        new_ids += evaluate_batch(batch, now=now, counts=counts)
    for key, value in execute_actions(new_ids, now=now).items():
        counts[key] = counts.get(key, 0) + value
    if specs:
        db.session.execute(
            update(Rule.__table__)
            .where(Rule.__table__.c.id.in_([rule.id for rule in specs]))
            .values(last_evaluated_at=now)
        )
    db.session.flush()
    return counts
