"""Rule preview: which accounts a condition matches now, and why.

The match is the same SQL the evaluation runs (``condition_sql.compile_condition`` over
``account_signals``), so a preview never disagrees with what the rule would fire on. The first
rows come back with the value of every signal the condition reads, and each clause is then
marked true, false or unknown by ``rules.evaluate`` — the explanation a lead reads before
saving.

The count is split the way evaluation splits its matches (``rules.skip_reason``): churned
accounts the rule would skip, accounts a resolved queue item of the rule still snoozes (for
a saved rule), and accounts whose open item in a pool the rule routes to the firing would
join instead of opening a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, not_, select, true

from cs_app.accounts.models import Account
from cs_app.accounts.usage_models import AccountSignals
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.triggers.pools.models import CsmPool, QueueItem, QueueItemReason
from cs_app.triggers.rules import rules
from cs_app.triggers.rules.condition_sql import compile_condition, signal_column
from cs_app.triggers.rules.service import clean_condition

MAX_LIMIT = 200


@dataclass(frozen=True)
class PreviewRow:
    account_id: int
    external_id: str
    name: str
    segment: str
    currency: str
    csm_name: str | None
    csm_email: str | None
    values: dict[str, Any]
    clauses: list[rules.ClauseResult]


@dataclass(frozen=True)
class Preview:
    count: int  # accounts matching now
    accounts_with_signals: int  # accounts the condition was checked against
    signals: list[str]  # the signals the condition reads, in the order of the columns
    rows: list[PreviewRow]  # the first ``limit`` matches, largest ARR first
    limit: int
    signals_computed_at: datetime | None
    signals_age_hours: float | None
    skipped_churned: int = 0  # matches the rule skips: churned, and it does not target them
    snoozed: int = 0  # further matches a resolved queue item of the rule snoozes
    merged: int = 0  # further matches whose open item in a routed-to pool they would join


def route_pools(actions: Sequence[Any] | None) -> list[str]:
    """The keys of the pools a rule's actions route to."""
    return [
        a["pool"]
        for a in actions or []
        if isinstance(a, dict)
        and a.get("type") == "route_to_pool"
        and isinstance(a.get("pool"), str)
    ]


def _split(
    account_id, *, include_churned: bool, rule_id: int | None, pool_keys: Sequence[str], now
):
    """(skipped as churned, snoozed, would join an open item) for the account column, each
    excluding the ones before it, as evaluation applies them."""
    accounts = Account.__table__
    churned = (
        not_(true())
        if include_churned
        else exists().where(
            accounts.c.id == account_id, accounts.c.lifecycle_stage == rules.CHURNED
        )
    )
    if rule_id is None:
        snoozed = not_(true())
    else:
        reasons, items = QueueItemReason.__table__, QueueItem.__table__
        snoozed = (
            exists()
            .select_from(reasons.join(items, items.c.id == reasons.c.queue_item_id))
            .where(
                reasons.c.rule_id == literal(rule_id),
                items.c.account_id == account_id,
                reasons.c.snoozed_until > now,
            )
        )
    if pool_keys:
        items, pools = QueueItem.__table__, CsmPool.__table__
        joins = (
            exists()
            .select_from(items.join(pools, pools.c.id == items.c.pool_id))
            .where(
                items.c.account_id == account_id,
                items.c.status.in_(("open", "claimed")),
                pools.c.key.in_(list(pool_keys)),
            )
        )
    else:
        joins = not_(true())
    return churned, and_(not_(churned), snoozed), and_(not_(churned), not_(snoozed), joins)


def preview_condition(
    condition: Any,
    *,
    limit: int = 50,
    now: datetime,
    include_churned: bool = False,
    rule_id: int | None = None,
    pool_keys: Sequence[str] = (),
) -> Preview:
    """Count and the first ``limit`` accounts (largest ARR first, then by name) that match
    ``condition`` now, and how many of them the rule would skip as churned (unless
    ``include_churned``), find snoozed (``rule_id``: a saved rule) or join to an open item
    in one of ``pool_keys``. Refuses a bad condition with a ``ValidationError`` naming
    the clause. Two statements however many accounts match."""
    condition = clean_condition(condition)
    limit = max(1, min(limit, MAX_LIMIT))
    signals_table = AccountSignals.__table__
    matches = compile_condition(condition)
    churned, snoozed, merged = _split(
        signals_table.c.account_id,
        include_churned=include_churned,
        rule_id=rule_id,
        pool_keys=pool_keys,
        now=now,
    )

    def matching(extra):
        return func.coalesce(func.sum(case((and_(matches, extra), 1), else_=0)), 0)

    count, total, computed_at, skipped, quiet, joining = db.session.execute(
        select(
            func.coalesce(func.sum(case((matches, 1), else_=0)), 0),
            func.count(),
            func.max(signals_table.c.computed_at),
            matching(churned),
            matching(snoozed),
            matching(merged),
        ).select_from(signals_table)
    ).one()
    used = rules.signals_used(condition)
    columns = [signal_column(key).label(f"signal_{index}") for index, key in enumerate(used)]
    result = db.session.execute(
        select(
            Account.id,
            Account.external_id,
            Account.name,
            Account.segment,
            Account.currency,
            User.name.label("csm_name"),
            User.email.label("csm_email"),
            *columns,
        )
        .select_from(signals_table)
        .join(Account, Account.id == signals_table.c.account_id)
        .outerjoin(User, User.id == Account.csm_id)
        .where(matches)
        .order_by(Account.arr_minor.desc(), Account.name, Account.id)
        .limit(limit)
    ).all()
    rows = []
    for row in result:
        values = {key: getattr(row, f"signal_{index}") for index, key in enumerate(used)}
        trace: list[rules.ClauseResult] = []
        rules.evaluate(condition, values, trace)
        rows.append(
            PreviewRow(
                account_id=row.id,
                external_id=row.external_id,
                name=row.name,
                segment=row.segment,
                currency=row.currency,
                csm_name=row.csm_name,
                csm_email=row.csm_email,
                values=values,
                clauses=trace,
            )
        )
    age = (now - computed_at).total_seconds() / 3600 if computed_at is not None else None
    return Preview(
        count=int(count),
        accounts_with_signals=int(total),
        signals=used,
        rows=rows,
        limit=limit,
        signals_computed_at=computed_at,
        signals_age_hours=age,
        skipped_churned=int(skipped),
        snoozed=int(quiet),
        merged=int(joining),
    )
