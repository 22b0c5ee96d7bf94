"""What the trigger machinery did for one account, for its page: recent rule firings with
the values that matched, its queue items, and its touchpoints. Three bounded queries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from cs_app.extensions import db
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.rules.models import RuleFiring
from cs_app.triggers.touchpoints.models import Touchpoint

LIMIT = 10


@dataclass
class AccountTriggers:
    firings: list[RuleFiring]
    queue_items: list[QueueItem]
    touchpoints: list[Touchpoint]

    @property
    def empty(self) -> bool:
        return not (self.firings or self.queue_items or self.touchpoints)


def account_triggers(account_id: int, *, limit: int = LIMIT) -> AccountTriggers:
    firings = db.session.scalars(
        select(RuleFiring)
        .where(RuleFiring.account_id == account_id)
        .order_by(RuleFiring.fired_at.desc(), RuleFiring.id.desc())
        .limit(limit)
    ).all()
    items = db.session.scalars(
        select(QueueItem)
        .where(QueueItem.account_id == account_id)
        .order_by(
            (QueueItem.status == "resolved"), QueueItem.created_at.desc(), QueueItem.id.desc()
        )
        .limit(limit)
    ).all()
    touchpoints = db.session.scalars(
        select(Touchpoint)
        .where(Touchpoint.account_id == account_id)
        .order_by(Touchpoint.due_at.desc(), Touchpoint.id.desc())
        .limit(limit)
    ).all()
    return AccountTriggers(
        firings=list(firings), queue_items=list(items), touchpoints=list(touchpoints)
    )
