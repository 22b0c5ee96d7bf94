"""The portfolio dashboard for CS leads: every widget is one or a few set-based statements.

Each function takes the filters (CSM, segment, engagement model) and an explicit ``today`` and
returns plain dataclasses the template draws and the CSV export writes; none of them loops over
accounts in Python, so the page costs the same handful of statements for 40 accounts or
100,000. Churned accounts are left out of every widget: their ARR is gone and their health no
longer matters.

Where a widget needs an account's band today it reads ``account_signals.health_band`` (the
latest snapshot, copied there by every recompute); history (the weekly trend, band movements)
reads ``health_snapshots``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, exists, false, func, literal, select, union_all
from sqlalchemy.orm import aliased

from cs_app.accounts.models import ENGAGEMENT_MODELS, SEGMENTS, Account
from cs_app.accounts.queries import AccountScope, account_conditions
from cs_app.accounts.usage_models import AccountSignals
from cs_app.auth.models import User
from cs_app.dashboards import routing_queries
from cs_app.extensions import db
from cs_app.health import scoring
from cs_app.health.models import HealthSnapshot, Scorecard, ScorecardVersion
from cs_app.health.scoring import AT_RISK, CRITICAL, NOT_SCORED, band_label
from cs_app.plans.models import ActionItem, Plan

SCORED_BANDS = scoring.BANDS
BANDS = (*SCORED_BANDS, NOT_SCORED)
RISK_BANDS = (AT_RISK, CRITICAL)
RENEWAL_WINDOWS = (30, 60, 90)
TREND_WEEKS = 12
MOVEMENT_DAYS = 30
SNAPSHOT_LOOKBACK_DAYS = 7  # "band on a day" = the latest snapshot of the week up to that day
LIST_LIMIT = 20
RENEWAL_LIST_LIMIT = 25
UNASSIGNED = "none"
MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger "csm" is not an id at all

Money = list[tuple[str, int]]  # (currency, minor units), sorted by currency


def _money(totals: dict[str, int]) -> Money:
    return [(currency, int(amount)) for currency, amount in sorted(totals.items()) if amount]


# --- filters -------------------------------------------------------------------------------


@dataclass
class DashboardFilters:
    """What the dashboard shows; unknown values are dropped so a stale link still works."""

    csm: str = ""  # a user id, or UNASSIGNED for pooled accounts
    segment: str = ""
    engagement: str = ""

    @classmethod
    def from_args(cls, args) -> DashboardFilters:
        def pick(name: str, allowed) -> str:
            value = (args.get(name) or "").strip()
            return value if value in allowed else ""

        csm = (args.get("csm") or "").strip()
        if csm != UNASSIGNED and not (csm.isdigit() and int(csm) <= MAX_ID):
            csm = ""
        return cls(
            csm=csm,
            segment=pick("segment", SEGMENTS),
            engagement=pick("engagement", ENGAGEMENT_MODELS),
        )

    @property
    def filtering(self) -> bool:
        return bool(self.csm or self.segment or self.engagement)

    def args(self) -> dict[str, str]:
        """The query-string arguments, for links and CSV downloads that keep the filters."""
        names = ("csm", "segment", "engagement")
        return {name: getattr(self, name) for name in names if getattr(self, name)}

    def where(self) -> list:
        """The accounts in scope: not churned, and matching every filter."""
        return account_conditions(
            AccountScope(
                segment=self.segment,
                engagement=self.engagement,
                csm_id=int(self.csm) if self.csm and self.csm != UNASSIGNED else None,
                unassigned=self.csm == UNASSIGNED,
                leave_out_churned=True,
            )
        )


def csm_choices() -> list[tuple[int, str]]:
    """Everyone who owns an account, or could (active, not a viewer)."""
    owners = select(Account.csm_id).where(Account.csm_id.is_not(None)).distinct()
    return [
        (user_id, name)
        for user_id, name in db.session.execute(
            select(User.id, User.name)
            .where((User.active.is_(True) & (User.role != "viewer")) | User.id.in_(owners))
            .order_by(User.name)
        )
    ]


def last_scored_day() -> date | None:
    """The newest snapshot day of any account: None until a recompute has scored anything
    (the "nothing scored yet" empty state)."""
    return db.session.scalar(select(func.max(HealthSnapshot.day)))


def _band_column():
    return func.coalesce(AccountSignals.health_band, literal(NOT_SCORED))


# --- 1. accounts and ARR by band -----------------------------------------------------------


@dataclass
class BandRow:
    band: str
    accounts: int = 0
    arr: dict[str, int] = field(default_factory=dict)
    share: float = 0.0  # of the accounts in scope, 0..1

    @property
    def label(self) -> str:
        return band_label(self.band)

    @property
    def arr_money(self) -> Money:
        return _money(self.arr)


@dataclass
class BandSummary:
    rows: list[BandRow]
    accounts: int
    arr: Money
    at_risk_accounts: int
    at_risk_arr: Money
    currencies: list[str]

    @property
    def scored(self) -> int:
        return sum(row.accounts for row in self.rows if row.band != NOT_SCORED)

    def row(self, band: str) -> BandRow:
        return next(row for row in self.rows if row.band == band)

    def at_risk_share(self, currency: str) -> float:
        """ARR at risk as a share of all ARR in ``currency`` (0..1)."""
        total = dict(self.arr).get(currency, 0)
        return dict(self.at_risk_arr).get(currency, 0) / total if total else 0.0


def band_summary(filters: DashboardFilters) -> BandSummary:
    """Accounts and ARR per band (one statement); ARR at risk = at-risk plus critical ARR."""
    band = _band_column()
    statement = (
        select(
            band.label("band"),
            Account.currency,
            func.count(Account.id),
            func.coalesce(func.sum(Account.arr_minor), 0),
        )
        .select_from(Account)
        .outerjoin(AccountSignals, AccountSignals.account_id == Account.id)
        .where(*filters.where())
        .group_by(band, Account.currency)
    )
    rows = {name: BandRow(name) for name in BANDS}
    totals: dict[str, int] = defaultdict(int)
    at_risk: dict[str, int] = defaultdict(int)
    for name, currency, count, arr in db.session.execute(statement):
        row = rows.setdefault(name, BandRow(name))
        row.accounts += count
        row.arr[currency] = row.arr.get(currency, 0) + int(arr)
        totals[currency] += int(arr)
        if name in RISK_BANDS:
            at_risk[currency] += int(arr)
    accounts = sum(row.accounts for row in rows.values())
    for row in rows.values():
        row.share = row.accounts / accounts if accounts else 0.0
    return BandSummary(
        rows=list(rows.values()),
        accounts=accounts,
        arr=_money(totals),
        at_risk_accounts=sum(rows[b].accounts for b in RISK_BANDS),
        at_risk_arr=_money(at_risk),
        currencies=sorted(totals),
    )


# --- 2. renewals in the next 30/60/90 days -------------------------------------------------


@dataclass
class RenewalWindow:
    days: int  # the window ends this many days from today
    start_days: int
    accounts: int = 0
    arr: dict[str, int] = field(default_factory=dict)
    by_band: dict[str, int] = field(default_factory=dict)
    at_risk_arr: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.start_days}–{self.days} days"

    @property
    def at_risk_accounts(self) -> int:
        return sum(self.by_band.get(band, 0) for band in RISK_BANDS)

    @property
    def arr_money(self) -> Money:
        return _money(self.arr)

    @property
    def at_risk_money(self) -> Money:
        return _money(self.at_risk_arr)


@dataclass
class RenewalLine:
    external_id: str
    name: str
    renewal_date: date
    arr_minor: int
    currency: str
    band: str
    health_score: float | None
    csm_name: str | None
    days_to_renewal: int = 0

    @property
    def band_label(self) -> str:
        return band_label(self.band)

    @property
    def window(self) -> int:
        return next(days for days in RENEWAL_WINDOWS if self.days_to_renewal <= days)


@dataclass
class RenewalSummary:
    windows: list[RenewalWindow]
    items: list[RenewalLine]
    total: int

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.items))

    @property
    def arr(self) -> Money:
        totals: dict[str, int] = defaultdict(int)
        for window in self.windows:
            for currency, amount in window.arr.items():
                totals[currency] += amount
        return _money(totals)

    @property
    def at_risk_accounts(self) -> int:
        return sum(window.at_risk_accounts for window in self.windows)


def _renewal_where(filters: DashboardFilters, today: date) -> list:
    return [
        *filters.where(),
        Account.renewal_date >= today,
        Account.renewal_date <= today + timedelta(days=RENEWAL_WINDOWS[-1]),
    ]


def _renewal_lines_statement(filters: DashboardFilters, today: date):
    return (
        select(
            Account.external_id,
            Account.name,
            Account.renewal_date,
            Account.arr_minor,
            Account.currency,
            _band_column().label("band"),
            AccountSignals.health_score,
            User.name.label("csm_name"),
        )
        .select_from(Account)
        .outerjoin(AccountSignals, AccountSignals.account_id == Account.id)
        .outerjoin(User, User.id == Account.csm_id)
        .where(*_renewal_where(filters, today))
        .order_by(Account.renewal_date, Account.arr_minor.desc(), Account.name, Account.id)
    )


def renewal_lines(
    filters: DashboardFilters, today: date, limit: int | None = None
) -> list[RenewalLine]:
    statement = _renewal_lines_statement(filters, today)
    if limit is not None:
        statement = statement.limit(limit)
    lines = [RenewalLine(**row._mapping) for row in db.session.execute(statement)]
    for line in lines:
        line.days_to_renewal = (line.renewal_date - today).days
    return lines


def renewals(
    filters: DashboardFilters, today: date, limit: int = RENEWAL_LIST_LIMIT
) -> RenewalSummary:
    """Renewals in the next 30, 60 and 90 days with their bands: one aggregate, one list."""
    first, second, _ = (today + timedelta(days=days) for days in RENEWAL_WINDOWS)
    window = case(
        (Account.renewal_date <= first, RENEWAL_WINDOWS[0]),
        (Account.renewal_date <= second, RENEWAL_WINDOWS[1]),
        else_=RENEWAL_WINDOWS[2],
    )
    band = _band_column()
    statement = (
        select(
            window.label("window"),
            band.label("band"),
            Account.currency,
            func.count(Account.id),
            func.coalesce(func.sum(Account.arr_minor), 0),
        )
        .select_from(Account)
        .outerjoin(AccountSignals, AccountSignals.account_id == Account.id)
        .where(*_renewal_where(filters, today))
        .group_by(window, band, Account.currency)
    )
    starts = (0, *(days + 1 for days in RENEWAL_WINDOWS[:-1]))
    windows = {
        days: RenewalWindow(days, start)
        for days, start in zip(RENEWAL_WINDOWS, starts, strict=True)
    }
    for days, name, currency, count, arr in db.session.execute(statement):
        bucket = windows[int(days)]
        bucket.accounts += count
        bucket.arr[currency] = bucket.arr.get(currency, 0) + int(arr)
        bucket.by_band[name] = bucket.by_band.get(name, 0) + count
        if name in RISK_BANDS:
            bucket.at_risk_arr[currency] = bucket.at_risk_arr.get(currency, 0) + int(arr)
    return RenewalSummary(
        windows=list(windows.values()),
        items=renewal_lines(filters, today, limit),
        total=sum(w.accounts for w in windows.values()),
    )


# --- 3. health trend over weeks ------------------------------------------------------------


@dataclass
class TrendWeek:
    start: date
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class ModelChange:
    """A new scorecard version inside the trend's window: the chart marks its week."""

    week_start: date
    created_at: datetime
    scorecard: str
    number: int


@dataclass
class HealthTrend:
    weeks: list[TrendWeek]
    changes: list[ModelChange]

    @property
    def empty(self) -> bool:
        return all(week.total == 0 for week in self.weeks)

    def series(self, band: str) -> list[int]:
        return [week.counts.get(band, 0) for week in self.weeks]


def trend_weeks(today: date, weeks: int = TREND_WEEKS) -> list[date]:
    """The Mondays that start the last ``weeks`` weeks, the current (partial) week last."""
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=weeks - 1 - index) for index in range(weeks)]


@dataclass
class ScoredWindow:
    """A range of days and, in it, the last day anything was scored.

    The nightly recompute scores every account on the same day, so that day holds the newest
    snapshot of almost every account: reading it is one index range, not a scan of the window.
    Only when fewer accounts in scope were scored that day than existed by then (a run missed
    some, or the day held only a catch-up recompute) do the others look further back.
    """

    first: date
    last: date
    day: date | None = None
    population: int = 0  # accounts in scope created by the end of ``day``
    on_day: int = 0  # accounts in scope with a snapshot on ``day``
    bands: dict[str, int] = field(default_factory=dict)  # their bands

    @property
    def complete(self) -> bool:
        return self.day is None or self.on_day >= self.population


def scored_windows(
    filters: DashboardFilters, ranges: list[tuple[date, date]]
) -> list[ScoredWindow]:
    """The last scored day of each range, with its band counts for the accounts in scope and
    whether some accounts in scope were missed that day: three statements for any number of
    ranges and accounts."""
    windows = [ScoredWindow(first, last) for first, last in ranges]
    last_days = db.session.execute(
        select(
            *(
                select(func.max(HealthSnapshot.day))
                .where(HealthSnapshot.day >= window.first, HealthSnapshot.day <= window.last)
                .scalar_subquery()
                for window in windows
            )
        )
    ).one()
    for window, day in zip(windows, last_days, strict=True):
        window.day = day
    days = sorted({window.day for window in windows if window.day is not None})
    if not days:
        return windows

    def existed_by(day: date):
        end = datetime.combine(day + timedelta(days=1), time(), UTC)
        return func.coalesce(func.sum(case((Account.created_at < end, 1), else_=0)), 0)

    population = dict(
        zip(
            days,
            db.session.execute(
                select(*(existed_by(day) for day in days)).where(*filters.where())
            ).one(),
            strict=True,
        )
    )
    by_day: dict[date, dict[str, int]] = defaultdict(dict)
    for day, band, count in db.session.execute(
        select(HealthSnapshot.day, HealthSnapshot.band, func.count())
        .join(Account, Account.id == HealthSnapshot.account_id)
        .where(HealthSnapshot.day.in_(days), *filters.where())
        .group_by(HealthSnapshot.day, HealthSnapshot.band)
    ):
        by_day[day][band] = count
    for window in windows:
        if window.day is not None:
            window.population = int(population[window.day])
            window.bands = dict(by_day[window.day])
            window.on_day = sum(window.bands.values())
    return windows


def _scored_on(filters: DashboardFilters, day: date):
    return (
        select(HealthSnapshot.account_id, HealthSnapshot.band, HealthSnapshot.score)
        .join(Account, Account.id == HealthSnapshot.account_id)
        .where(HealthSnapshot.day == day, *filters.where())
    )


def _missed_on_last_day(filters: DashboardFilters, window: ScoredWindow, name: str):
    """The accounts in scope not scored on the window's last scored day, each with its newest
    snapshot earlier in the window (accounts with none are left out). Driven from those
    accounts: one index seek each for the day, one for the row."""
    other = aliased(HealthSnapshot, name=f"{name}_other")
    latest = aliased(HealthSnapshot, name=f"{name}_latest")
    latest_day = (
        select(latest.day)
        .where(
            latest.account_id == Account.id, latest.day >= window.first, latest.day <= window.last
        )
        .order_by(latest.day.desc())
        .limit(1)
        .correlate(Account)
        .scalar_subquery()
    )
    missing = (
        select(Account.id.label("account_id"), latest_day.label("day"))
        .where(
            *filters.where(),
            ~exists().where(other.account_id == Account.id, other.day == window.day),
        )
        .subquery(f"{name}_missing")
    )
    return select(HealthSnapshot.account_id, HealthSnapshot.band, HealthSnapshot.score).join(
        missing,
        and_(
            missing.c.account_id == HealthSnapshot.account_id, missing.c.day == HealthSnapshot.day
        ),
    )


def window_snapshots(filters: DashboardFilters, window: ScoredWindow, name: str):
    """Each account in scope with its newest snapshot in the window: (account_id, band,
    score)."""
    if window.day is None:
        parts = [
            select(HealthSnapshot.account_id, HealthSnapshot.band, HealthSnapshot.score).where(
                false()
            )
        ]
    else:
        parts = [_scored_on(filters, window.day)]
        if not window.complete:
            parts.append(_missed_on_last_day(filters, window, name))
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery(name)


def health_trend(filters: DashboardFilters, today: date, weeks: int = TREND_WEEKS) -> HealthTrend:
    """Per week, how many accounts were in each band: each account counts once a week, with
    its latest snapshot of that week (``ScoredWindow`` says how that stays cheap)."""
    starts = trend_weeks(today, weeks)
    first = starts[0]
    windows = scored_windows(
        filters, [(start, min(start + timedelta(days=6), today)) for start in starts]
    )
    trend = [
        TrendWeek(start, dict(window.bands)) for start, window in zip(starts, windows, strict=True)
    ]
    missed = [(index, window) for index, window in enumerate(windows) if not window.complete]
    if missed:
        parts = []
        for index, window in missed:
            rows = _missed_on_last_day(filters, window, f"week_{index}").subquery(f"w{index}")
            parts.append(select(literal(index).label("week"), rows.c.band))
        weekly = union_all(*parts).subquery("weekly")
        for week, band, count in db.session.execute(
            select(weekly.c.week, weekly.c.band, func.count()).group_by(
                weekly.c.week, weekly.c.band
            )
        ):
            counts = trend[int(week)].counts
            counts[band] = counts.get(band, 0) + count
    changes = [
        ModelChange(
            week_start=starts[min(len(starts) - 1, max(0, (created.date() - first).days // 7))],
            created_at=created,
            scorecard=name,
            number=number,
        )
        for created, name, number in db.session.execute(
            select(ScorecardVersion.created_at, Scorecard.name, ScorecardVersion.number)
            .join(Scorecard, Scorecard.id == ScorecardVersion.scorecard_id)
            .where(
                ScorecardVersion.number > 1,
                ScorecardVersion.created_at >= datetime.combine(first, time(), UTC),
                ScorecardVersion.created_at
                < datetime.combine(today + timedelta(days=1), time(), UTC),
            )
            .order_by(ScorecardVersion.created_at)
        )
    ]
    return HealthTrend(weeks=trend, changes=changes)


# --- 4. band movements ---------------------------------------------------------------------


@dataclass
class Movement:
    external_id: str
    name: str
    csm_name: str | None
    arr_minor: int
    currency: str
    band_before: str
    score_before: float | None
    band_now: str
    score_now: float | None

    @property
    def score_change(self) -> float | None:
        if self.score_before is None or self.score_now is None:
            return None
        return self.score_now - self.score_before

    @property
    def label_before(self) -> str:
        return band_label(self.band_before)

    @property
    def label_now(self) -> str:
        return band_label(self.band_now)


@dataclass
class Movements:
    """Band 30 days ago → band now for the accounts scored around both days (the latest
    snapshot of the week up to each day)."""

    matrix: dict[tuple[str, str], int]
    items: list[Movement]
    days: int = MOVEMENT_DAYS

    @property
    def compared(self) -> int:
        return sum(self.matrix.values())

    @property
    def worse(self) -> int:
        return sum(count for (before, now), count in self.matrix.items() if _worse(before, now))

    @property
    def better(self) -> int:
        return sum(count for (before, now), count in self.matrix.items() if _worse(now, before))

    @property
    def more(self) -> int:
        return max(0, self.worse - len(self.items))

    def count(self, before: str, now: str) -> int:
        return self.matrix.get((before, now), 0)


def _worse(before: str, now: str) -> bool:
    return scoring.band_move(before, now) == "worsened"


def _rank(column):
    return case(scoring.BAND_SEVERITY, value=column, else_=None)


def _movement_statements(filters: DashboardFilters, today: date):
    """Band now (the latest snapshot of the last seven days) against band 30 days ago (the
    latest snapshot of the seven days up to then)."""
    lookback = timedelta(days=SNAPSHOT_LOOKBACK_DAYS - 1)
    month_ago = today - timedelta(days=MOVEMENT_DAYS)
    now_window, before_window = scored_windows(
        filters, [(today - lookback, today), (month_ago - lookback, month_ago)]
    )
    now = window_snapshots(filters, now_window, "band_now")
    before = window_snapshots(filters, before_window, "band_before")
    joined = (
        select(Account.id)
        .select_from(now)
        .join(before, before.c.account_id == now.c.account_id)
        .join(Account, Account.id == now.c.account_id)
    )
    matrix = joined.with_only_columns(before.c.band, now.c.band, func.count(Account.id)).group_by(
        before.c.band, now.c.band
    )
    change = now.c.score - before.c.score
    items = (
        joined.with_only_columns(
            Account.external_id,
            Account.name,
            User.name.label("csm_name"),
            Account.arr_minor,
            Account.currency,
            before.c.band.label("band_before"),
            before.c.score.label("score_before"),
            now.c.band.label("band_now"),
            now.c.score.label("score_now"),
        )
        .outerjoin(User, User.id == Account.csm_id)
        .where(_rank(now.c.band) > _rank(before.c.band))
        .order_by(change.asc().nulls_last(), Account.arr_minor.desc(), Account.name)
    )
    return matrix, items


def _movement_lines(statement, limit: int | None) -> list[Movement]:
    if limit is not None:
        statement = statement.limit(limit)
    return [Movement(**row._mapping) for row in db.session.execute(statement)]


def movement_lines(
    filters: DashboardFilters, today: date, limit: int | None = None
) -> list[Movement]:
    """Every account whose band got worse, biggest score drop first (the CSV)."""
    _, statement = _movement_statements(filters, today)
    return _movement_lines(statement, limit)


def band_movements(filters: DashboardFilters, today: date, limit: int = LIST_LIMIT) -> Movements:
    """Who got worse in the last 30 days (band now vs 30 days ago), biggest score drop first,
    and the whole from → to matrix."""
    matrix_statement, items_statement = _movement_statements(filters, today)
    matrix = {(before, now): count for before, now, count in db.session.execute(matrix_statement)}
    return Movements(matrix=matrix, items=_movement_lines(items_statement, limit))


# --- 5. CSM workload -----------------------------------------------------------------------


@dataclass
class WorkloadRow:
    csm_id: int | None
    csm_name: str | None
    accounts: int = 0
    arr: dict[str, int] = field(default_factory=dict)
    at_risk: int = 0
    critical: int = 0
    overdue_actions: int = 0
    stale_plans: int = 0
    open_items: int = 0  # queue items assigned to this CSM, open or claimed
    sla_breaches: int = 0

    @property
    def name(self) -> str:
        return self.csm_name or "Unassigned (pooled)"

    @property
    def arr_money(self) -> Money:
        return _money(self.arr)

    @property
    def filter_value(self) -> str:
        return str(self.csm_id) if self.csm_id is not None else UNASSIGNED


@dataclass
class Workload:
    rows: list[WorkloadRow]
    currencies: list[str]

    @property
    def max_accounts(self) -> int:
        return max((row.accounts for row in self.rows), default=0)


def _overdue_actions_by_account(today: date):
    return (
        select(Plan.account_id, func.count(ActionItem.id).label("n"))
        .join(ActionItem, ActionItem.plan_id == Plan.id)
        .where(Plan.status == "active", ActionItem.status != "done", ActionItem.due_date < today)
        .group_by(Plan.account_id)
        .subquery("overdue_actions")
    )


def _stale_plans_by_account(today: date):
    return (
        select(Plan.account_id, func.count(Plan.id).label("n"))
        .where(Plan.status == "active", Plan.next_review_on < today)
        .group_by(Plan.account_id)
        .subquery("stale_plans")
    )


def csm_workload(filters: DashboardFilters, today: date) -> Workload:
    """Per CSM: accounts, ARR, accounts at risk and critical, overdue actions and plans whose
    review is overdue. Actions and reviews are read live from the plans (the same definitions
    as the overdue_actions and plan_review_overdue signals), so the table is right even
    between recomputes."""
    actions = _overdue_actions_by_account(today)
    stale = _stale_plans_by_account(today)

    def count_band(band: str):
        return func.coalesce(func.sum(case((AccountSignals.health_band == band, 1), else_=0)), 0)

    statement = (
        select(
            Account.csm_id,
            User.name,
            Account.currency,
            func.count(Account.id),
            func.coalesce(func.sum(Account.arr_minor), 0),
            count_band(AT_RISK),
            count_band(CRITICAL),
            func.coalesce(func.sum(actions.c.n), 0),
            func.coalesce(func.sum(stale.c.n), 0),
        )
        .select_from(Account)
        .outerjoin(User, User.id == Account.csm_id)
        .outerjoin(AccountSignals, AccountSignals.account_id == Account.id)
        .outerjoin(actions, actions.c.account_id == Account.id)
        .outerjoin(stale, stale.c.account_id == Account.id)
        .where(*filters.where())
        .group_by(Account.csm_id, User.name, Account.currency)
    )
    rows: dict[int | None, WorkloadRow] = {}
    currencies: set[str] = set()
    for (
        csm_id,
        name,
        currency,
        count,
        arr,
        at_risk,
        critical,
        overdue,
        stale_count,
    ) in db.session.execute(statement):
        row = rows.setdefault(csm_id, WorkloadRow(csm_id, name))
        row.accounts += count
        row.arr[currency] = row.arr.get(currency, 0) + int(arr)
        row.at_risk += int(at_risk)
        row.critical += int(critical)
        row.overdue_actions += int(overdue)
        row.stale_plans += int(stale_count)
        currencies.add(currency)
    loads = routing_queries.queue_loads(filters)
    for user_id, load in loads.by_user.items():  # pool members own no account, yet items
        row = rows.setdefault(user_id, WorkloadRow(user_id, loads.names[user_id]))
        row.open_items, row.sla_breaches = load.open_items, load.breached
    ordered = sorted(rows.values(), key=lambda r: (r.csm_id is None, (r.csm_name or "").lower()))
    return Workload(rows=ordered, currencies=sorted(currencies))


# --- 6. plan coverage and stale plans ------------------------------------------------------


@dataclass
class CoverageRow:
    segment: str
    accounts: int = 0
    covered: int = 0

    @property
    def share(self) -> float:
        return self.covered / self.accounts if self.accounts else 0.0


@dataclass
class StalePlan:
    id: int
    title: str
    next_review_on: date
    account_name: str
    account_external_id: str
    owner_name: str
    band: str
    days_overdue: int = 0

    @property
    def band_label(self) -> str:
        return band_label(self.band)


@dataclass
class UncoveredAccount:
    external_id: str
    name: str
    arr_minor: int
    currency: str
    band: str
    csm_name: str | None

    @property
    def band_label(self) -> str:
        return band_label(self.band)


@dataclass
class PlanCoverage:
    segments: list[CoverageRow]
    stale: list[StalePlan]
    stale_total: int
    uncovered: list[UncoveredAccount]

    @property
    def accounts(self) -> int:
        return sum(row.accounts for row in self.segments)

    @property
    def covered(self) -> int:
        return sum(row.covered for row in self.segments)

    @property
    def share(self) -> float:
        return self.covered / self.accounts if self.accounts else 0.0

    @property
    def uncovered_total(self) -> int:
        return self.accounts - self.covered

    @property
    def stale_more(self) -> int:
        return max(0, self.stale_total - len(self.stale))


def _has_active_plan():
    return exists().where(Plan.account_id == Account.id, Plan.status == "active")


def _stale_where(filters: DashboardFilters, today: date) -> list:
    return [*filters.where(), Plan.status == "active", Plan.next_review_on < today]


def stale_plan_lines(
    filters: DashboardFilters, today: date, limit: int | None = None
) -> list[StalePlan]:
    owner = aliased(User)
    statement = (
        select(
            Plan.id,
            Plan.title,
            Plan.next_review_on,
            Account.name.label("account_name"),
            Account.external_id.label("account_external_id"),
            owner.name.label("owner_name"),
            _band_column().label("band"),
        )
        .join(Account, Account.id == Plan.account_id)
        .join(owner, owner.id == Plan.owner_id)
        .outerjoin(AccountSignals, AccountSignals.account_id == Account.id)
        .where(*_stale_where(filters, today))
        .order_by(Plan.next_review_on, Plan.id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    lines = [StalePlan(**row._mapping) for row in db.session.execute(statement)]
    for line in lines:
        line.days_overdue = (today - line.next_review_on).days
    return lines


def plan_coverage(filters: DashboardFilters, today: date, limit: int = LIST_LIMIT) -> PlanCoverage:
    """Accounts with an active plan per segment; active plans whose review is overdue; the
    largest accounts without an active plan."""
    covered = func.coalesce(func.sum(case((_has_active_plan(), 1), else_=0)), 0)
    by_segment = {segment: CoverageRow(segment) for segment in SEGMENTS}
    for segment, accounts, with_plan in db.session.execute(
        select(Account.segment, func.count(Account.id), covered)
        .where(*filters.where())
        .group_by(Account.segment)
    ):
        row = by_segment.setdefault(segment, CoverageRow(segment))
        row.accounts, row.covered = accounts, int(with_plan)
    stale_total = (
        db.session.scalar(
            select(func.count(Plan.id))
            .join(Account, Account.id == Plan.account_id)
            .where(*_stale_where(filters, today))
        )
        or 0
    )
    uncovered = [
        UncoveredAccount(**row._mapping)
        for row in db.session.execute(
            select(
                Account.external_id,
                Account.name,
                Account.arr_minor,
                Account.currency,
                _band_column().label("band"),
                User.name.label("csm_name"),
            )
            .select_from(Account)
            .outerjoin(AccountSignals, AccountSignals.account_id == Account.id)
            .outerjoin(User, User.id == Account.csm_id)
            .where(*filters.where(), ~_has_active_plan())
            .order_by(Account.arr_minor.desc(), Account.name)
            .limit(10)
        )
    ]
    return PlanCoverage(
        segments=[row for row in by_segment.values() if row.accounts],
        stale=stale_plan_lines(filters, today, limit),
        stale_total=stale_total,
        uncovered=uncovered,
    )


# --- the whole page ------------------------------------------------------------------------


@dataclass
class Portfolio:
    filters: DashboardFilters
    today: date
    last_scored: date | None
    bands: BandSummary
    renewals: RenewalSummary
    trend: HealthTrend
    movements: Movements
    workload: Workload
    coverage: PlanCoverage
    firings: routing_queries.FiringWeeks
    routing: routing_queries.RoutingSummary

    @property
    def scored_ever(self) -> bool:
        return self.last_scored is not None

    @property
    def empty(self) -> bool:
        """No account matches the filters (or there are no accounts at all)."""
        return self.bands.accounts == 0


def portfolio(filters: DashboardFilters, today: date) -> Portfolio:
    return Portfolio(
        filters=filters,
        today=today,
        last_scored=last_scored_day(),
        bands=band_summary(filters),
        renewals=renewals(filters, today),
        trend=health_trend(filters, today),
        movements=band_movements(filters, today),
        workload=csm_workload(filters, today),
        coverage=plan_coverage(filters, today),
        firings=routing_queries.firings_per_week(filters, trend_weeks(today)),
        routing=routing_queries.routing_summary(filters, trend_weeks(today)),
    )
