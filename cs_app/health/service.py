"""Scorecards (validated, versioned, audited), what-if, overrides and an account's health story.

Services take the acting user and ``now`` and only flush; callers commit.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from cs_app.accounts.models import SEGMENTS, Account
from cs_app.accounts.signal_catalog import CATEGORY, METRIC_PREFIX, SIGNALS, signal_kind
from cs_app.accounts.usage_models import AccountSignals
from cs_app.audit import service as audit
from cs_app.errors import NotFoundError, ValidationError
from cs_app.extensions import db
from cs_app.health import scoring
from cs_app.health.models import (
    HealthOverride,
    HealthSnapshot,
    Scorecard,
    ScorecardMeasure,
    ScorecardVersion,
)
from cs_app.health.recompute import (
    active_scorecards,
    recompute,
    scope_of,
    scores_select,
    write_snapshots,
)

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,59}$")
OVERRIDE_BANDS = tuple(scoring.BAND_SCORES)  # the confident bands
MAX_OVERRIDE_DAYS = 365
SCORE_DROP_ALERT = 15.0


# --- scorecards -----------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError
    return float(value)


def validate_scorecard(values: dict[str, Any]) -> dict[str, Any]:
    """Check a scorecard definition; returns it normalised or raises ValidationError whose
    fields name each problem (``measures.2.healthy`` for the third measure's threshold)."""
    errors: dict[str, str] = {}
    name = (values.get("name") or "").strip()
    if not name:
        errors["name"] = "Give the scorecard a name."
    segment = values.get("segment") or None
    if segment is not None and segment not in SEGMENTS:
        errors["segment"] = f"Segment must be one of {', '.join(SEGMENTS)} or empty for all."
    limits = {}
    for field_name, default in (
        ("healthy_min", 70.0),
        ("at_risk_min", 40.0),
        ("coverage_floor", 0.5),
    ):
        try:
            limits[field_name] = _number(values.get(field_name, default))
            if limits[field_name] is None:
                limits[field_name] = default
        except (TypeError, ValueError):
            errors[field_name] = "Enter a number."
    if not errors.keys() & {"healthy_min", "at_risk_min", "coverage_floor"}:
        if not 0 <= limits["at_risk_min"] < limits["healthy_min"] <= 100:
            errors["healthy_min"] = (
                "Band limits must satisfy 0 ≤ at-risk minimum < healthy minimum ≤ 100."
            )
        if not 0 < limits["coverage_floor"] <= 1:
            errors["coverage_floor"] = "The coverage floor is a share between 0 and 1 (0.5 = 50 %)."
    measures_in = values.get("measures") or []
    if not isinstance(measures_in, list) or not measures_in:
        errors["measures"] = "Add at least one measure."
        measures_in = []
    measures: list[dict[str, Any]] = []
    seen_keys: set[str] = set()
    for index, raw in enumerate(measures_in):
        prefix = f"measures.{index}"
        if not isinstance(raw, dict):
            errors[prefix] = "Each measure is an object."
            continue
        measure, problems = _validate_measure(raw)
        for field_name, message in problems.items():
            errors[f"{prefix}.{field_name}"] = f"Measure {index + 1}: {message}"
        if measure.get("key") in seen_keys:
            errors[f"{prefix}.key"] = (
                f"Measure {index + 1}: the key {measure['key']!r} is used twice."
            )
        seen_keys.add(measure.get("key"))
        measures.append(measure)
    if measures and not any(k.startswith("measures.") and k.endswith(".weight") for k in errors):
        total = sum(m["weight"] for m in measures)
        if abs(total - 100) > 1e-6:
            errors["weights"] = f"The weights add up to {total:g}; they must add up to 100."
    if errors:
        raise ValidationError("The scorecard was not saved: " + " ".join(errors.values()), errors)
    return {
        "name": name,
        "segment": segment,
        "note": (values.get("note") or "").strip() or None,
        **limits,
        "measures": measures,
    }


def _validate_measure(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    problems: dict[str, str] = {}
    key = str(raw.get("key") or "").strip()
    if not KEY_PATTERN.match(key):
        problems["key"] = "the key uses lowercase letters, digits, - and _ (e.g. login_frequency)."
    signal = str(raw.get("signal") or "").strip()
    kind = signal_kind(signal)
    if kind is None:
        problems["signal"] = (
            f"unknown signal {signal!r}; use a signal from the catalog or "
            f"{METRIC_PREFIX}<metric key>."
        )
    measure: dict[str, Any] = {
        "key": key,
        "label": (raw.get("label") or key).strip(),
        "signal": signal,
    }
    try:
        weight = _number(raw.get("weight"))
        if weight is None or weight <= 0:
            raise ValueError
        measure["weight"] = weight
    except (TypeError, ValueError):
        problems["weight"] = "the weight must be a number above 0."
        measure["weight"] = 0.0
    try:
        freshness = raw.get("freshness_days")
        measure["freshness_days"] = None if freshness in (None, "") else int(freshness)
        if measure["freshness_days"] is not None and measure["freshness_days"] < 1:
            raise ValueError
    except (TypeError, ValueError):
        problems["freshness_days"] = "the freshness window is a whole number of days (1 or more)."
    if kind == CATEGORY:
        categories = raw.get("categories") or {}
        allowed = SIGNALS[signal].categories
        if not isinstance(categories, dict) or not categories:
            problems["categories"] = (
                f"map the categories of {signal} ({', '.join(allowed)}) to bands."
            )
        else:
            for category, band in categories.items():
                if category not in allowed:
                    problems["categories"] = f"{category!r} is not a category of {signal}."
                elif band not in OVERRIDE_BANDS:
                    problems["categories"] = (
                        f"{category!r} must map to healthy, at_risk or critical, not {band!r}."
                    )
        measure.update(
            categories=dict(categories), higher_is_better=True, healthy=None, critical=None
        )
    elif kind is not None:
        try:
            healthy, critical = _number(raw.get("healthy")), _number(raw.get("critical"))
        except (TypeError, ValueError):
            healthy = critical = None
        if healthy is None or critical is None:
            problems["healthy"] = "give both the healthy and the critical threshold."
        higher = raw.get("higher_is_better", True)
        if isinstance(higher, str):
            higher = higher not in ("false", "0", "lower", "")
        if (
            healthy is not None
            and critical is not None
            and healthy != critical
            and ((healthy > critical) != bool(higher))
        ):
            problems["healthy"] = (
                "the healthy threshold must be on the better side of the "
                "critical one (higher is better: healthy above critical)."
            )
        measure.update(
            healthy=healthy, critical=critical, higher_is_better=bool(higher), categories=None
        )
    return measure, problems


def scorecard_as_dict(scorecard: Scorecard, version: ScorecardVersion | None = None) -> dict:
    version = version or scorecard.current_version
    return {
        "id": scorecard.id,
        "key": scorecard.key,
        "name": scorecard.name,
        "segment": scorecard.segment,
        "active": scorecard.active,
        "version": version.number if version else None,
        "healthy_min": version.healthy_min if version else None,
        "at_risk_min": version.at_risk_min if version else None,
        "coverage_floor": version.coverage_floor if version else None,
        "note": version.note if version else None,
        "measures": [
            {
                "key": m.key,
                "label": m.label,
                "signal": m.signal,
                "weight": m.weight,
                "higher_is_better": m.higher_is_better,
                "healthy": m.healthy,
                "critical": m.critical,
                "categories": m.categories,
                "freshness_days": m.freshness_days,
            }
            for m in (version.measures if version else [])
        ],
    }


def _build_version(clean: dict[str, Any], number: int) -> ScorecardVersion:
    version = ScorecardVersion(
        number=number,
        healthy_min=clean["healthy_min"],
        at_risk_min=clean["at_risk_min"],
        coverage_floor=clean["coverage_floor"],
        note=clean["note"],
    )
    version.measures = [
        ScorecardMeasure(
            position=position,
            key=m["key"],
            label=m["label"],
            signal=m["signal"],
            weight=m["weight"],
            higher_is_better=m["higher_is_better"],
            healthy=m["healthy"],
            critical=m["critical"],
            categories=m["categories"],
            freshness_days=m["freshness_days"],
        )
        for position, m in enumerate(clean["measures"])
    ]
    return version


def get_scorecard(scorecard_id: int) -> Scorecard:
    scorecard = db.session.get(Scorecard, scorecard_id)
    if scorecard is None:
        raise NotFoundError(f"No scorecard has id {scorecard_id}.")
    return scorecard


def create_scorecard(values: dict[str, Any], *, user, now: datetime) -> Scorecard:
    clean = validate_scorecard(values)
    key = (values.get("key") or re.sub(r"[^a-z0-9]+", "-", clean["name"].lower())).strip("-")
    if not KEY_PATTERN.match(key) or db.session.scalar(
        select(Scorecard.id).where(Scorecard.key == key)
    ):
        raise ValidationError(
            "Choose another key.", {"key": f"The key {key!r} is taken or not a valid slug."}
        )
    scorecard = Scorecard(
        key=key, name=clean["name"], segment=clean["segment"], active=True, created_at=now
    )
    version = _build_version(clean, 1)
    version.created_at, version.created_by_id = now, user.id if user else None
    scorecard.versions.append(version)
    db.session.add(scorecard)
    db.session.flush()
    audit.record(
        "scorecard",
        scorecard.id,
        "created",
        user=user,
        now=now,
        after=scorecard_as_dict(scorecard, version),
    )
    return scorecard


def save_version(
    scorecard: Scorecard, values: dict[str, Any], *, user, now: datetime
) -> ScorecardVersion:
    """Saving a change makes a new version; earlier versions stay for history and backtests."""
    clean = validate_scorecard(values)
    before = scorecard_as_dict(scorecard)
    current = scorecard.current_version
    version = _build_version(clean, (current.number if current else 0) + 1)
    version.created_at, version.created_by_id = now, user.id if user else None
    scorecard.name, scorecard.segment = clean["name"], clean["segment"]
    scorecard.versions.insert(0, version)
    db.session.flush()
    audit.record(
        "scorecard",
        scorecard.id,
        "new_version",
        user=user,
        now=now,
        before=before,
        after=scorecard_as_dict(scorecard, version),
    )
    return version


def what_if(scorecard: Scorecard, values: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """How the band counts of the scorecard's accounts would move under ``values``, computed
    by the same SQL as the recompute, without saving anything."""
    clean = validate_scorecard(values)
    proposed = _build_version(clean, 0)
    cards = active_scorecards()
    scope = scope_of(scorecard, cards) if scorecard.id else None
    results = {}
    for label, version in (("current", scorecard.current_version), ("proposed", proposed)):
        if version is None:
            results[label] = Counter()
            continue
        scores = scores_select(version, now=now, account_filter=scope).subquery()
        results[label] = Counter(
            dict(
                db.session.execute(
                    select(scores.c.band, func.count()).group_by(scores.c.band)
                ).all()
            )
        )
    bands = list(OVERRIDE_BANDS) + [scoring.INSUFFICIENT]
    return {
        "bands": [
            {
                "band": band,
                "current": results["current"].get(band, 0),
                "proposed": results["proposed"].get(band, 0),
            }
            for band in bands
        ],
        "accounts": sum(results["current"].values()) or sum(results["proposed"].values()),
    }


# --- overrides ------------------------------------------------------------------------------


def active_override(account: Account, now: datetime) -> HealthOverride | None:
    return db.session.scalar(
        select(HealthOverride)
        .where(
            HealthOverride.account_id == account.id,
            HealthOverride.cleared_at.is_(None),
            HealthOverride.expires_at > now,
        )
        .order_by(HealthOverride.created_at.desc(), HealthOverride.id.desc())
        .limit(1)
    )


def _override_dict(override: HealthOverride | None) -> dict | None:
    if override is None:
        return None
    return {
        "band": override.band,
        "score": override.score,
        "reason": override.reason,
        "expires_at": override.expires_at.isoformat(),
        "created_by": override.created_by.email if override.created_by else None,
    }


def _rescore(account: Account, now: datetime) -> None:
    """Rewrite today's snapshot of the account. One never scored has no signals row for the
    snapshot to read, so it gets its signals first and its override shows at once rather
    than after the next recompute job."""
    if db.session.get(AccountSignals, account.id) is None:
        recompute(now=now, account_ids=[account.id])
    else:
        write_snapshots(now=now, account_ids=[account.id])


def set_override(
    account: Account, values: dict[str, Any], *, user, now: datetime
) -> HealthOverride:
    errors: dict[str, str] = {}
    band = values.get("band") or None
    if band is not None and band not in OVERRIDE_BANDS:
        errors["band"] = "Band must be healthy, at_risk or critical."
    try:
        score = _number(values.get("score"))
        if score is not None and not 0 <= score <= 100:
            raise ValueError
    except (TypeError, ValueError):
        errors["score"] = "Score must be a number from 0 to 100."
        score = None
    if band is None and score is None and "band" not in errors and "score" not in errors:
        errors["band"] = "Override the band, the score or both."
    reason = (values.get("reason") or "").strip()
    if len(reason) < 5:
        errors["reason"] = "Say why (at least a few words): the next person will ask."
    expires = values.get("expires_on")
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires)
        except ValueError:
            expires = None
    if not isinstance(expires, date):
        errors["expires_on"] = "Give the date the override ends (YYYY-MM-DD)."
    elif expires <= now.date():
        errors["expires_on"] = "The override must end after today."
    elif expires > now.date() + timedelta(days=MAX_OVERRIDE_DAYS):
        errors["expires_on"] = f"An override lasts at most {MAX_OVERRIDE_DAYS} days."
    if errors:
        raise ValidationError("The override was not saved: " + " ".join(errors.values()), errors)
    previous = active_override(account, now)
    if previous is not None:
        previous.cleared_at = now
    expires_at = datetime.combine(expires, datetime.min.time(), tzinfo=now.tzinfo)
    override = HealthOverride(
        account_id=account.id,
        band=band,
        score=score,
        reason=reason,
        expires_at=expires_at,
        created_at=now,
        created_by_id=user.id if user else None,
    )
    db.session.add(override)
    db.session.flush()
    audit.record(
        "account_health",
        account.external_id,
        "override_set",
        user=user,
        now=now,
        before=_override_dict(previous),
        after=_override_dict(override),
    )
    _rescore(account, now)
    return override


def clear_override(account: Account, *, user, now: datetime) -> bool:
    override = active_override(account, now)
    if override is None:
        return False
    override.cleared_at = now
    db.session.flush()
    audit.record(
        "account_health",
        account.external_id,
        "override_cleared",
        user=user,
        now=now,
        before=_override_dict(override),
    )
    _rescore(account, now)
    return True


# --- an account's health story --------------------------------------------------------------


@dataclass
class MeasureView:
    key: str
    label: str
    signal: str
    value: Any
    score: float | None
    weight: float
    points_lost: float | None
    stale: bool
    missing: bool
    change_7d: float | None
    change_30d: float | None


@dataclass
class AccountHealth:
    snapshot: HealthSnapshot | None
    version: ScorecardVersion | None
    measures: list[MeasureView]
    override: HealthOverride | None
    trend: list[HealthSnapshot]
    version_changes: list[date]
    score_change_30d: float | None
    dropped: bool

    @property
    def missing_or_stale(self) -> list[MeasureView]:
        return [m for m in self.measures if m.missing]


def _snapshot_on_or_before(account_id: int, day: date) -> HealthSnapshot | None:
    return db.session.scalar(
        select(HealthSnapshot)
        .where(HealthSnapshot.account_id == account_id, HealthSnapshot.day <= day)
        .order_by(HealthSnapshot.day.desc())
        .limit(1)
    )


def _scores_by_key(snapshot: HealthSnapshot | None) -> dict[str, float | None]:
    if snapshot is None or not snapshot.measures:
        return {}
    return {m["key"]: m.get("score") for m in snapshot.measures}


def account_health(account: Account, *, now: datetime, trend_days: int = 90) -> AccountHealth:
    today = now.date()
    trend = list(
        db.session.scalars(
            select(HealthSnapshot)
            .where(
                HealthSnapshot.account_id == account.id,
                HealthSnapshot.day > today - timedelta(days=trend_days),
                HealthSnapshot.day <= today,
            )
            .order_by(HealthSnapshot.day)
        )
    )
    snapshot = trend[-1] if trend else _snapshot_on_or_before(account.id, today)
    version = (
        db.session.get(ScorecardVersion, snapshot.scorecard_version_id)
        if snapshot and snapshot.scorecard_version_id
        else None
    )
    labels = {m.key: m.label for m in version.measures} if version else {}
    current = _scores_by_key(snapshot)
    week = scoring.what_changed(
        current, _scores_by_key(_snapshot_on_or_before(account.id, today - timedelta(days=7)))
    )
    month_snapshot = _snapshot_on_or_before(account.id, today - timedelta(days=30))
    month = scoring.what_changed(current, _scores_by_key(month_snapshot))
    measures = []
    for item in (snapshot.measures or []) if snapshot else []:
        measures.append(
            MeasureView(
                key=item["key"],
                label=labels.get(item["key"], item["key"]),
                signal=item.get("signal", ""),
                value=item.get("value"),
                score=item.get("score"),
                weight=item.get("weight"),
                points_lost=item.get("points_lost"),
                stale=bool(item.get("stale")),
                missing=item.get("score") is None,
                change_7d=week.get(item["key"]),
                change_30d=month.get(item["key"]),
            )
        )
    changes = [
        later.day
        for earlier, later in zip(trend, trend[1:], strict=False)
        if earlier.scorecard_version_id != later.scorecard_version_id
    ]
    change_30d = (
        snapshot.score - month_snapshot.score
        if snapshot
        and month_snapshot
        and snapshot.score is not None
        and month_snapshot.score is not None
        else None
    )
    return AccountHealth(
        snapshot,
        version,
        measures,
        active_override(account, now),
        trend,
        changes,
        change_30d,
        change_30d is not None and change_30d <= -SCORE_DROP_ALERT,
    )


def health_json(health: AccountHealth) -> dict[str, Any] | None:
    """The health object of SPEC §3."""
    snapshot = health.snapshot
    if snapshot is None:
        return None
    version = health.version
    return {
        "score": None if snapshot.score is None else round(snapshot.score, 1),
        "band": snapshot.band,
        "coverage": round(snapshot.coverage, 3),
        "scorecard_version": version.number if version else None,
        "scorecard": version.scorecard.key if version else None,
        "computed_score": None
        if snapshot.computed_score is None
        else round(snapshot.computed_score, 1),
        "computed_band": snapshot.computed_band,
        "day": snapshot.day.isoformat(),
        "measures": [
            {
                "key": m.key,
                "value": m.value,
                "score": None if m.score is None else round(m.score, 1),
                "weight": m.weight,
                "points_lost": None if m.points_lost is None else round(m.points_lost, 2),
                "stale": m.stale,
                "missing": m.missing,
                "change_7d": None if m.change_7d is None else round(m.change_7d, 1),
                "change_30d": None if m.change_30d is None else round(m.change_30d, 1),
            }
            for m in health.measures
        ],
        "override": _override_dict(health.override),
        "score_change_30d": None
        if health.score_change_30d is None
        else round(health.score_change_30d, 1),
        "score_drop_alert": health.dropped,
    }
