"""Forms of the health pages: the override on the account page and the scorecard editor.

They parse what people type into the shapes ``cs_app.health.service`` validates, so the rules
(and their messages) stay in the service; field names match the service's error fields.
The scorecard's measure rows are a variable list of plain inputs (``m-<row>-<field>``), read
here into ``MeasureRow`` objects that keep every typed string for the re-rendered form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from cs_app import form_errors
from cs_app.accounts.models import SEGMENTS
from cs_app.accounts.signal_catalog import BOOLEAN, CATEGORY, METRIC_PREFIX, NUMBER, SIGNALS
from cs_app.errors import ValidationError
from cs_app.health.scoring import BAND_LABELS, BAND_SCORES

OVERRIDE_BAND_CHOICES = [
    SelectChoice("", "Keep the computed band"),
    *(SelectChoice(band, BAND_LABELS[band]) for band in BAND_SCORES),  # the confident bands
]
ALL_ACCOUNTS_LABEL = "All other accounts"
KIND_GROUPS = ((NUMBER, "Numbers"), (CATEGORY, "Categories"), (BOOLEAN, "Yes / no (1 / 0)"))
BLANK_ROWS = 3
ROW_FIELDS = (
    "key",
    "label",
    "signal",
    "metric",
    "weight",
    "direction",
    "healthy",
    "critical",
    "categories",
    "freshness_days",
    "remove",
)


class OverrideForm(FlaskForm):
    band = SelectField("Band", choices=OVERRIDE_BAND_CHOICES, validate_choice=False)
    score = StringField("Score (0–100)")
    reason = TextAreaField("Reason")
    expires_on = StringField("Until")

    def values(self) -> dict[str, Any]:
        return {
            "band": self.band.data or None,
            "score": (self.score.data or "").strip() or None,
            "reason": self.reason.data or "",
            "expires_on": (self.expires_on.data or "").strip(),
        }

    def load(self, override) -> None:
        self.band.data = override.band or ""
        self.score.data = "" if override.score is None else f"{override.score:g}"
        self.reason.data = override.reason
        self.expires_on.data = override.expires_at.date().isoformat()


class ScorecardForm(FlaskForm):
    """The scorecard's own fields; the measure rows are read by ``read_rows``."""

    name = StringField("Name")
    key = StringField("Key")
    segment = SelectField(
        "Applies to",
        validate_choice=False,
        choices=[SelectChoice("", ALL_ACCOUNTS_LABEL), *(SelectChoice(s, s) for s in SEGMENTS)],
    )
    healthy_min = StringField("Healthy from score")
    at_risk_min = StringField("At risk from score")
    coverage_floor = StringField("Coverage floor (%)")
    note = StringField("Note for this version")

    def load(self, definition: dict[str, Any]) -> None:
        self.name.data = definition["name"]
        self.segment.data = definition["segment"] or ""
        self.healthy_min.data = _plain(definition["healthy_min"])
        self.at_risk_min.data = _plain(definition["at_risk_min"])
        self.coverage_floor.data = _plain(round(definition["coverage_floor"] * 100, 4))
        self.note.data = ""

    def values(self, rows: list[MeasureRow]) -> dict[str, Any]:
        floor = (self.coverage_floor.data or "").strip().rstrip("%").strip()
        try:
            coverage = float(floor) / 100 if floor else None
        except ValueError:
            coverage = floor  # the service names it: "Enter a number."
        values = {
            "name": self.name.data or "",
            "segment": self.segment.data or None,
            "healthy_min": (self.healthy_min.data or "").strip() or None,
            "at_risk_min": (self.at_risk_min.data or "").strip() or None,
            "coverage_floor": coverage,
            "note": self.note.data or "",
            "measures": [row.values() for row in rows if not row.skipped],
        }
        if "key" in self and (self.key.data or "").strip():
            values["key"] = self.key.data.strip()
        return values


def _plain(number: float | None) -> str:
    return "" if number is None else f"{number:g}"


@dataclass
class MeasureRow:
    """One measure as typed: every value a string, errors by field."""

    key: str = ""
    label: str = ""
    signal: str = ""
    metric: str = ""
    weight: str = ""
    direction: str = "higher"
    healthy: str = ""
    critical: str = ""
    categories: str = ""
    freshness_days: str = ""
    remove: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not any(
            (
                self.key,
                self.label,
                self.signal,
                self.metric,
                self.weight,
                self.healthy,
                self.critical,
                self.categories,
                self.freshness_days,
            )
        )

    @property
    def skipped(self) -> bool:
        """Blank rows and rows marked for removal are not part of the scorecard."""
        return self.blank or bool(self.remove)

    @property
    def signal_key(self) -> str:
        metric = self.metric.strip()
        if metric:
            return metric if metric.startswith(METRIC_PREFIX) else METRIC_PREFIX + metric
        return self.signal.strip()

    @property
    def kind(self) -> str | None:
        signal = SIGNALS.get(self.signal_key)
        if signal is not None:
            return signal.kind
        return NUMBER if self.signal_key.startswith(METRIC_PREFIX) else None

    @property
    def weight_number(self) -> float | None:
        try:
            return float(self.weight)
        except ValueError:
            return None

    def values(self) -> dict[str, Any]:
        return {
            "key": self.key.strip(),
            "label": self.label.strip(),
            "signal": self.signal_key,
            "weight": self.weight.strip() or None,
            "higher_is_better": self.direction != "lower",
            "healthy": self.healthy.strip() or None,
            "critical": self.critical.strip() or None,
            "categories": parse_categories(self.categories) if self.kind == CATEGORY else None,
            "freshness_days": self.freshness_days.strip() or None,
        }

    @classmethod
    def from_measure(cls, measure: dict[str, Any]) -> MeasureRow:
        signal = measure["signal"]
        is_metric = signal.startswith(METRIC_PREFIX)
        return cls(
            key=measure["key"],
            label=measure["label"],
            signal="" if is_metric else signal,
            metric=signal[len(METRIC_PREFIX) :] if is_metric else "",
            weight=_plain(measure["weight"]),
            direction="higher" if measure["higher_is_better"] else "lower",
            healthy=_plain(measure["healthy"]),
            critical=_plain(measure["critical"]),
            categories=format_categories(measure["categories"]),
            freshness_days=_plain(measure["freshness_days"]),
        )


def parse_categories(text: str) -> dict[str, str]:
    """``promoter=healthy, passive=at risk`` → ``{"promoter": "healthy", "passive":
    "at_risk"}``. A piece without ``=`` keeps an empty band so the service names it."""
    mapping: dict[str, str] = {}
    for piece in re.split(r"[,;\n]", text):
        if not piece.strip():
            continue
        category, _, band = piece.partition("=")
        band = re.sub(r"[\s-]+", "_", band.strip().lower())
        mapping[category.strip()] = band
    return mapping


def format_categories(categories: dict[str, str] | None) -> str:
    return ", ".join(f"{c}={b}" for c, b in (categories or {}).items())


def read_rows(formdata) -> list[MeasureRow]:
    """The posted measure rows in their order on the page."""
    indexes = sorted(
        {int(m.group(1)) for name in formdata if (m := re.fullmatch(r"m-(\d+)-[a-z_]+", name))}
    )
    return [
        MeasureRow(**{name: (formdata.get(f"m-{index}-{name}") or "") for name in ROW_FIELDS})
        for index in indexes
    ]


def with_blank_rows(rows: list[MeasureRow]) -> list[MeasureRow]:
    """Typed rows, without trailing blanks, then three blank rows to add measures in."""
    kept = list(rows)
    while kept and kept[-1].blank:
        kept.pop()
    return kept + [MeasureRow() for _ in range(BLANK_ROWS)]


def show_errors(form: ScorecardForm, rows: list[MeasureRow], error: ValidationError) -> list[str]:
    """Each message of the service next to its measure row, then the shared placement for the
    rest; return the messages that belong nowhere else. ``weights`` and ``measures`` are shown
    by the measures section. Service indexes count only the filled rows, so they are mapped
    back onto the page's rows."""
    filled = [row for row in rows if not row.skipped]
    elsewhere: set[str] = set()
    for name, message in error.fields.items():
        parts = name.split(".")
        if parts[0] == "measures" and len(parts) == 3 and int(parts[1]) < len(filled):
            text = re.sub(r"^Measure \d+: ", "", message)
            filled[int(parts[1])].errors[parts[2]] = text[:1].upper() + text[1:]
            elsewhere.add(name)
        elif name in ("weights", "measures"):
            elsewhere.add(name)
        elif name == "coverage_floor":
            form.coverage_floor.errors = ["Enter a percentage above 0 and at most 100."]
            elsewhere.add(name)
    aliases = {} if "key" in form else {"key": "name"}  # the key is fixed once saved
    return form_errors.show_errors(form, error, aliases, elsewhere=elsewhere)
