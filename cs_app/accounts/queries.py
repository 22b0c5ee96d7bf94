"""Read-side queries for the account pages: the filtered, sorted, paged list and the choices
the forms offer. One statement for a page of rows and one for the count, whatever the size of
the portfolio. ``account_conditions`` is the one account filter: the API's account list and
the dashboard read their arguments into an ``AccountScope`` and filter with it too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, exists, func, select

from cs_app.accounts.models import ENGAGEMENT_MODELS, LIFECYCLE_STAGES, SEGMENTS, Account
from cs_app.accounts.usage_models import AccountSignals
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.health import scoring
from cs_app.health.scoring import BANDS
from cs_app.paging import Page, clamp_page, offset
from cs_app.plans.models import PLAN_STATUSES, Plan, PlanTemplate
from cs_app.request_args import page_number
from cs_app.sql import contains_text, on_postgresql

UNASSIGNED = "none"
NOT_SCORED = "none"  # the band argument that lists the accounts never scored
SORTS = ("name", "arr", "renewal", "stage", "segment", "csm", "health")


@dataclass
class AccountFilters:
    """What the list shows; unknown values are dropped so a stale link still works."""

    q: str = ""
    segment: str = ""
    stage: str = ""
    csm: str = ""
    engagement: str = ""
    band: str = ""
    sort: str = "name"
    direction: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> AccountFilters:
        def pick(name: str, allowed) -> str:
            value = (args.get(name) or "").strip()
            return value if value in allowed else ""

        csm = (args.get("csm") or "").strip()
        if csm != UNASSIGNED and not (csm.isdigit() and int(csm) < 2**31):
            csm = ""  # not a user id (ids are 32-bit integers in both databases)
        sort = args.get("sort", "name")
        return cls(
            q=(args.get("q") or "").strip()[:200],
            segment=pick("segment", SEGMENTS),
            stage=pick("stage", LIFECYCLE_STAGES),
            csm=csm,
            engagement=pick("engagement", ENGAGEMENT_MODELS),
            band=pick("band", (*BANDS, NOT_SCORED)),
            sort=sort if sort in SORTS else "name",
            direction="desc" if args.get("dir") == "desc" else "asc",
            page=page_number(args),
        )

    @property
    def filtering(self) -> bool:
        return bool(
            self.q or self.segment or self.stage or self.csm or self.engagement or self.band
        )

    def filter_args(self) -> dict[str, str]:
        """The query-string arguments that narrow the list (not sort or page)."""
        names = ("q", "segment", "stage", "csm", "engagement", "band")
        return {name: getattr(self, name) for name in names if getattr(self, name)}

    def scope(self) -> AccountScope:
        return AccountScope(
            q=self.q,
            segment=self.segment,
            stage=self.stage,
            engagement=self.engagement,
            csm_id=int(self.csm) if self.csm and self.csm != UNASSIGNED else None,
            unassigned=self.csm == UNASSIGNED,
            band=scoring.NOT_SCORED if self.band == NOT_SCORED else self.band,
        )

    def link_args(self) -> dict[str, str]:
        """Arguments kept by sort headers and the pager."""
        return {**self.filter_args(), "sort": self.sort, "dir": self.direction}


@dataclass
class AccountRow:
    id: int
    external_id: str
    name: str
    segment: str
    engagement_model: str
    lifecycle_stage: str
    arr_minor: int
    currency: str
    renewal_date: object
    csm_name: str | None
    has_active_plan: bool
    health_band: str | None = None
    health_score: float | None = None


@dataclass(frozen=True)
class AccountScope:
    """Which accounts a list covers: the one account filter behind the accounts page, the
    API's account list (``GET /api/v1/accounts``) and the dashboard. Each reads its own
    arguments into one; empty values filter nothing."""

    q: str = ""  # in the name or external id, any case, % and _ taken literally
    segment: str = ""
    stage: str = ""
    engagement: str = ""
    csm_id: int | None = None
    csm_email: str = ""  # the API names the CSM by email, any case
    unassigned: bool = False  # pooled accounts, which no CSM owns
    band: str = ""  # the latest band, or scoring.NOT_SCORED for accounts never scored
    leave_out_churned: bool = False


def account_conditions(scope: AccountScope) -> list:
    """The WHERE clauses over ``accounts`` that pick the accounts in ``scope``."""
    clauses = []
    if scope.leave_out_churned:
        clauses.append(Account.lifecycle_stage != "churned")
    if scope.q:
        clauses.append(
            contains_text(Account.name, scope.q) | contains_text(Account.external_id, scope.q)
        )
    if scope.segment:
        clauses.append(Account.segment == scope.segment)
    if scope.stage:
        clauses.append(Account.lifecycle_stage == scope.stage)
    if scope.engagement:
        clauses.append(Account.engagement_model == scope.engagement)
    if scope.unassigned:
        clauses.append(Account.csm_id.is_(None))
    elif scope.csm_id is not None:
        clauses.append(Account.csm_id == scope.csm_id)
    elif scope.csm_email:
        csm_id = select(User.id).where(func.lower(User.email) == scope.csm_email.lower())
        clauses.append(Account.csm_id == csm_id.scalar_subquery())
    if scope.band == scoring.NOT_SCORED:
        scored = select(AccountSignals.account_id).where(AccountSignals.health_band.is_not(None))
        clauses.append(Account.id.not_in(scored))
    elif scope.band:
        # The band of the account's latest snapshot: every snapshot write copies it into
        # account_signals.health_band in the same transaction (health.recompute.
        # write_snapshots), so this reads one row per account instead of finding each
        # account's newest day among all its snapshots.
        clauses.append(
            Account.id.in_(
                select(AccountSignals.account_id).where(AccountSignals.health_band == scope.band)
            )
        )
    return clauses


def _order(filters: AccountFilters, columns: Any = Account) -> list:
    """The list's order for the sorts not done group by group (``GROUPED_SORTS``), over the
    accounts table or a subquery's ``columns`` of the same names."""
    descending = filters.direction == "desc"

    def directed(column):
        return column.desc() if descending else column.asc()

    name = directed(columns.name)
    if filters.sort == "arr":
        keys = [directed(columns.arr_minor), name]
    elif filters.sort == "renewal":
        # accounts without a renewal date come last either way
        keys = [directed(columns.renewal_date).nulls_last(), name]
    elif filters.sort == "health":
        # accounts never scored come last either way
        keys = [directed(AccountSignals.health_score).nulls_last(), name]
    else:
        keys = [name]
    # the external id is unique: (name, external id) ends every order, as the indexes do
    return [*keys, directed(columns.external_id)]


# Up to this many search matches, PostgreSQL sorts them (see _sort_matches_first)
SORT_SEARCH_MATCHES_UP_TO = 10_000


def _sort_matches_first(filters: AccountFilters, total: int) -> bool:
    """Whether to find a search's matches first (PostgreSQL: the trigram indexes) and sort
    them, rather than walk a list index in the page's order testing every entry. PostgreSQL's
    planner picks the walk when it expects matches spread evenly, but names cluster: "harbor"
    matches nothing before the H's, a quarter of the index in. With a few thousand matches
    sorting them is cheap; with many more, the walk soon finds a page. SQLite has no trigram
    index: either way it reads the list index, and the walk stops sooner."""
    return (
        bool(filters.q)
        and filters.sort != "health"
        and total <= SORT_SEARCH_MATCHES_UP_TO
        and on_postgresql()
    )


def list_accounts(filters: AccountFilters, per_page: int) -> Page[AccountRow]:
    """One page of accounts with their CSM's name, whether an active plan exists and the
    health band and score of the last recompute.

    The page's accounts are picked first, by external id (unique, and in every list index, so
    PostgreSQL can answer from the index alone too) with a query that carries only the sort
    keys, or group by group for the stage, segment and CSM sorts (``_grouped_page_keys``); the
    CSM name, the health and the active-plan check then run for those rows alone, not for
    every row the sort or the offset passes over.
    """
    where = account_conditions(filters.scope())
    grouping = GROUPED_SORTS.get(filters.sort)
    has_active_plan = exists().where(Plan.account_id == Account.id, Plan.status == "active")
    statement = (
        select(
            Account.id,
            Account.external_id,
            Account.name,
            Account.segment,
            Account.engagement_model,
            Account.lifecycle_stage,
            Account.arr_minor,
            Account.currency,
            Account.renewal_date,
            User.name.label("csm_name"),
            has_active_plan.label("has_active_plan"),
            AccountSignals.health_band,
            AccountSignals.health_score,
        )
        .outerjoin(User, User.id == Account.csm_id)
        .outerjoin(AccountSignals, AccountSignals.account_id == Account.id)
    )
    if grouping is not None:
        total, page, keys = _grouped_page_keys(filters, where, grouping, per_page)
        position = {key: index for index, key in enumerate(keys)}
        rows = sorted(
            (
                AccountRow(**row._mapping)
                for row in db.session.execute(statement.where(Account.external_id.in_(keys)))
            ),
            key=lambda row: position[row.external_id],
        )
    else:
        total = db.session.scalar(select(func.count()).select_from(Account).where(*where)) or 0
        page = clamp_page(filters.page, total, per_page)
        if _sort_matches_first(filters, total):
            matches = (
                select(Account.external_id, Account.name, Account.arr_minor, Account.renewal_date)
                .where(*where)
                .offset(0)
                .subquery()
            )  # OFFSET 0: found first, then sorted
            page_keys = select(matches.c.external_id).order_by(*_order(filters, matches.c))
        else:
            page_keys = select(Account.external_id).where(*where)
            if filters.sort == "health":
                page_keys = page_keys.outerjoin(
                    AccountSignals, AccountSignals.account_id == Account.id
                )
            page_keys = page_keys.order_by(*_order(filters))
        page_keys = page_keys.limit(per_page).offset(offset(page, per_page)).subquery()
        statement = statement.join(page_keys, page_keys.c.external_id == Account.external_id)
        rows = [
            AccountRow(**row._mapping)
            for row in db.session.execute(statement.order_by(*_order(filters)))
        ]
    for row in rows:
        row.has_active_plan = bool(row.has_active_plan)
    return Page(items=rows, total=total, page=page, per_page=per_page)


# --- sorting by a column of few values ------------------------------------------------------
# Sorted by stage, segment or CSM, the list is a run of groups (every account of one stage,
# then the next...), each in name order. Instead of sorting the whole portfolio to find one
# page, the page is found by counting the accounts of each group (one GROUP BY, in the order
# of the column's list index) and reading only the groups the page falls into, each in name
# order straight off that index. Deep pages cost no more than the first one.


@dataclass(frozen=True)
class Grouping:
    column: Any
    # the column's values in the list's ascending order, ties sharing a rank; None (no value)
    # is never ranked and comes last either way
    ranks: Callable[[list], list[list]]


def _fixed_ranks(order: tuple[str, ...]) -> Callable[[list], list[list]]:
    """Ranks from a fixed order (stages, segments); unknown values share the last rank."""

    def ranks(values: list) -> list[list]:
        known = [[value] for value in order if value in values]
        unknown = sorted(value for value in values if value not in order and value is not None)
        return known + ([unknown] if unknown else [])

    return ranks


def _csm_ranks(values: list) -> list[list]:
    """CSMs by name as the database orders names; namesakes share a rank."""
    ranked: list[list] = []
    last_name = None
    for user_id, name in db.session.execute(
        select(User.id, User.name)
        .where(User.id.in_([v for v in values if v is not None]))
        .order_by(User.name, User.id)
    ):
        if ranked and name == last_name:
            ranked[-1].append(user_id)
        else:
            ranked.append([user_id])
        last_name = name
    return ranked


GROUPED_SORTS = {
    "stage": Grouping(Account.lifecycle_stage, _fixed_ranks(LIFECYCLE_STAGES)),
    "segment": Grouping(Account.segment, _fixed_ranks(SEGMENTS)),
    "csm": Grouping(Account.csm_id, _csm_ranks),
}


def _grouped_page_keys(
    filters: AccountFilters, where: list, grouping: Grouping, per_page: int
) -> tuple[int, int, list[str]]:
    """``(total, page, external ids of the page in the list's order)`` in at most five
    statements: the group counts, the CSMs' order (CSM sort), and the page's rows from the
    groups it spans: the first and the last in part, those between them (each smaller than a
    page) whole in one statement."""
    column = grouping.column
    counts = dict(
        db.session.execute(select(column, func.count()).where(*where).group_by(column)).all()
    )
    total = sum(counts.values())
    page = clamp_page(filters.page, total, per_page)
    descending = filters.direction == "desc"
    groups = grouping.ranks(list(counts))
    if descending:
        groups.reverse()
    if None in counts:
        groups.append([None])  # no stage, segment or CSM: last either way
    start, stop = offset(page, per_page), page * per_page
    spanned: list[tuple[list, int, int]] = []  # (values, offset in group, rows wanted)
    position = 0
    for values in groups:
        size = sum(counts[value] for value in values)
        if position + size > start and position < stop:
            skip = max(0, start - position)
            spanned.append((values, skip, min(size, stop - position) - skip))
        position += size
        if position >= stop:
            break
    if len(spanned) <= 2:
        return (
            total,
            page,
            [
                key
                for values, skip, limit in spanned
                for key in _group_keys(where, grouping, [values], descending, skip, limit)
            ],
        )
    first, middle, last = spanned[0], spanned[1:-1], spanned[-1]
    keys = _group_keys(where, grouping, [first[0]], descending, first[1], first[2])
    keys += _group_keys(
        where,
        grouping,
        [values for values, _, _ in middle],
        descending,
        0,
        sum(limit for _, _, limit in middle),
    )
    return total, page, keys + _group_keys(where, grouping, [last[0]], descending, 0, last[2])


def _group_keys(
    where: list, grouping: Grouping, groups: list[list], descending: bool, skip: int, limit: int
) -> list[str]:
    """External ids of the accounts in ``groups`` (consecutive in the list's order), in
    that order, the first ``skip`` left out."""
    column = grouping.column
    values = [value for group in groups for value in group]
    statement = select(Account.external_id).where(*where)
    if values == [None]:
        statement = statement.where(column.is_(None))
    else:
        statement = statement.where(column.in_(values))
    order = (
        [Account.name.desc(), Account.external_id.desc()]
        if descending
        else [Account.name, Account.external_id]
    )
    if len(groups) > 1:  # listed in the list's order, whichever the direction
        order.insert(
            0,
            case(
                {value: index for index, group in enumerate(groups) for value in group},
                value=column,
            ),
        )
    return list(db.session.scalars(statement.order_by(*order).offset(skip).limit(limit)))


def csm_choices() -> list[tuple[int, str]]:
    """People who can own accounts and plans: active, not viewers."""
    return [
        (user_id, name)
        for user_id, name in db.session.execute(
            select(User.id, User.name)
            .where(User.active.is_(True), User.role != "viewer")
            .order_by(User.name)
        )
    ]


def csm_filter_choices() -> list[tuple[int, str]]:
    """Everyone who owns at least one account, or could."""
    owners = select(Account.csm_id).where(Account.csm_id.is_not(None)).distinct()
    return [
        (user_id, name)
        for user_id, name in db.session.execute(
            select(User.id, User.name)
            .where((User.active.is_(True) & (User.role != "viewer")) | User.id.in_(owners))
            .order_by(User.name)
        )
    ]


@dataclass
class PlanRow:
    id: int
    title: str
    plan_type: str
    status: str
    owner_name: str
    next_review_on: object
    template_key: str | None


def account_plans(account: Account) -> list[PlanRow]:
    """The account's plans, active first, without loading their components."""
    status_order = case(
        {status: index for index, status in enumerate(PLAN_STATUSES)},
        value=Plan.status,
        else_=len(PLAN_STATUSES),
    )
    active_first = case((Plan.status == "active", 0), else_=1)
    statement = (
        select(
            Plan.id,
            Plan.title,
            Plan.plan_type,
            Plan.status,
            User.name.label("owner_name"),
            Plan.next_review_on,
            Plan.template_key,
        )
        .join(User, User.id == Plan.owner_id)
        .where(Plan.account_id == account.id)
        .order_by(active_first, status_order, Plan.next_review_on, Plan.id)
    )
    return [PlanRow(**row._mapping) for row in db.session.execute(statement)]


def template_choices() -> list[tuple[str, str, str]]:
    """``(key, name, plan_type)`` of every template: built-in ones first, then the team's."""
    return [
        (key, name, plan_type)
        for key, name, plan_type in db.session.execute(
            select(PlanTemplate.key, PlanTemplate.name, PlanTemplate.plan_type).order_by(
                PlanTemplate.built_in.desc(), PlanTemplate.name
            )
        )
    ]
