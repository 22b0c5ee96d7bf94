"""Rule preview: which accounts a condition matches now, and why.

The match is the same SQL the evaluation runs (``condition_sql.compile_condition`` over
``account_signals``), so a preview never disagrees with what the rule would fire on. The first
rows come back with the value of every signal the condition reads, and each clause is then
marked true, false or unknown by ``rules.evaluate`` — the explanation a lead reads before
saving.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select

from cs_app.accounts.models import Account
from cs_app.accounts.usage_models import AccountSignals
from cs_app.auth.models import User
from cs_app.extensions import db
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


def preview_condition(condition: Any, *, limit: int = 50, now: datetime) -> Preview:
    """Count and the first ``limit`` accounts (largest ARR first, then by name) that match
    ``condition`` now. Refuses a bad condition with a ``ValidationError`` naming
    the clause. Two statements however many accounts match."""
    condition = clean_condition(condition)
    limit = max(1, min(limit, MAX_LIMIT))
    signals_table = AccountSignals.__table__
    matches = compile_condition(condition)
    count, total, computed_at = db.session.execute(
        select(
            func.coalesce(func.sum(case((matches, 1), else_=0)), 0),
            func.count(),
            func.max(signals_table.c.computed_at),
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
    )
