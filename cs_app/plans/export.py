"""A success plan as a Markdown document: all seven components, the derived facts and flags.

``plan_markdown`` only reads attributes of the plan it is given and the insights computed for
it, so it serves the download, a future CLI command and fast tests alike.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from cs_app.accounts.models import ENGAGEMENT_LEVELS, INFLUENCE_LEVELS
from cs_app.money import format_money
from cs_app.plans import progress
from cs_app.plans.models import (
    ACTION_STATUSES,
    LEVELS,
    MILESTONE_STATUSES,
    OUTCOME_STATUSES,
    PLAN_STATUSES,
    PLAN_TYPES,
    REVIEW_CADENCES,
    RISK_CATEGORIES,
    RISK_STATUSES,
    STAKEHOLDER_ROLES,
)

OVERDUE = "**OVERDUE**"
# links that may stay in an exported plan: the web, mail, and places inside the document
SAFE_LINK = re.compile(r"(?:https?:|mailto:|[#/?.]|[^:]*$)", re.IGNORECASE)
# [text](target) and ![alt](target): the target up to the first ")"
MARKDOWN_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)]*)\)")
# [label]: target, a reference definition on its own line
LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S*?)>?(?:\s.*)?$", re.MULTILINE)
INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, line breaks kept as <br>."""
    if value is None:
        return "—"
    text = _text(value)
    if not text.strip():
        return "—"
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "<br>".join(line for line in lines if line) or "—"


def _text(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return safe_markdown(str(value))


def safe_markdown(text: str) -> str:
    """What a person typed, safe in a Markdown document whichever viewer renders it: HTML
    characters escaped (so ``<script>`` or ``<img onerror>`` shows as text), and links whose
    target is not the web, mail or a place in the document (``javascript:``, ``data:``,
    ``vbscript:``…) reduced to their text."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = MARKDOWN_LINK.sub(_safe_link, text)
    return LINK_DEFINITION.sub(
        lambda match: match.group(0) if _is_safe_target(match.group(1)) else "", text
    )


def _safe_link(match: re.Match) -> str:
    return match.group(0) if _is_safe_target(match.group(3)) else match.group(2)


def _is_safe_target(target: str) -> bool:
    """Browsers skip tabs, line breaks and control characters inside a scheme
    (``java<TAB>script:``) and renderers decode entities (``javascript&#58;``), so the
    target is looked at with both undone."""
    previous = None
    while previous != target:  # &amp;#58; becomes &#58; becomes :
        previous, target = target, html.unescape(target)
    return bool(SAFE_LINK.match(INVISIBLE.sub("", target).lstrip("<")))


def _inline(value: Any) -> str:
    """Text on one line outside tables (headings, facts): line breaks become spaces."""
    if value is None:
        return "—"
    return " ".join(_text(value).split()) or "—"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(cell(value) for value in row) + " |" for row in rows)
    return lines


def _label(labels: dict[str, str], key: str | None) -> str | None:
    if key is None:
        return None
    return labels.get(key, key)


def _amount(value: float | None, unit: str | None) -> str | None:
    if value is None:
        return None
    if not unit:
        return _text(value)
    return f"{_text(value)}{unit}" if unit == "%" else f"{_text(value)} {unit}"


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def slugify(text: str, max_length: int = 80) -> str:
    """ASCII, lowercase, hyphen-separated: "Acme Corp — Joint plan" → "acme-corp-joint-plan"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def export_filename(plan: Any) -> str:
    """``<account>-<plan-title>.md``, slugified; the plan id when nothing printable is left."""
    slug = "-".join(part for part in (slugify(plan.account.name), slugify(plan.title)) if part)
    return f"{slug or f'plan-{plan.id}'}.md"


def plan_markdown(plan: Any, insights: Any, today: date) -> str:
    """The whole plan as Markdown; ``insights`` is ``service.plan_insights(plan, ...)``."""
    account = plan.account
    out: list[str] = [f"# {_inline(account.name)} — {_inline(plan.title)}", ""]
    next_review = _inline(plan.next_review_on)
    if insights.review_overdue:
        next_review += f" {OVERDUE}"
    out += [
        f"- **Plan type:** {_inline(_label(PLAN_TYPES, plan.plan_type))}",
        f"- **Status:** {_inline(_label(PLAN_STATUSES, plan.status))}",
        f"- **Owner:** {_inline(plan.owner.name if plan.owner else None)}",
        f"- **Review cadence:** {_inline(_label(REVIEW_CADENCES, plan.review_cadence))}",
        f"- **Last review:** {_inline(plan.last_reviewed_on)}",
        f"- **Next review:** {next_review}",
        f"- **Exported:** {today.isoformat()}",
        "",
    ]
    if plan.summary:
        out += [safe_markdown(plan.summary.strip()), ""]

    out += ["## Flags", ""]
    if insights.flags:
        out += [f"- {_inline(flag.message)}" for flag in insights.flags]
    else:
        out.append("No flags: nothing overdue, no severe open risk, stakeholders engaged.")
    out.append("")

    out += ["## 1. Customer profile and context", ""]
    out += _table(
        ("Field", "Value"),
        [
            ("Account", account.name),
            ("External ID", account.external_id),
            ("Domain", account.domain),
            ("Industry", account.industry),
            ("Employees", account.employees),
            ("Segment", account.segment),
            ("Engagement model", account.engagement_model),
            ("ARR", format_money(account.arr_minor, account.currency)),
            ("Contract start", account.contract_start),
            ("Renewal date", account.renewal_date),
            ("CSM", account.csm.name if account.csm else "Pooled (no named CSM)"),
            ("Lifecycle stage", account.lifecycle_stage),
            ("Product plan", account.product_plan),
            ("Seats purchased", account.seats_purchased),
        ],
    )
    out += ["", "### Business context", ""]
    out += _table(
        ("Question", "Answer"),
        [
            ("Primary use case", account.primary_use_case),
            ("Purchase trigger", account.purchase_trigger),
            ("Previous solutions", account.previous_solutions),
            ("Strategic priorities", account.strategic_priorities),
        ],
    )
    out.append("")

    out += ["## 2. Success outcomes", ""]
    if plan.outcomes:
        rows = []
        for outcome in plan.outcomes:
            rows.append(
                (
                    outcome.title,
                    outcome.metric,
                    _amount(outcome.baseline, outcome.unit),
                    _amount(outcome.target, outcome.unit),
                    _amount(outcome.current_value, outcome.unit),
                    _percent(insights.outcome_progress.get(outcome.id)),
                    _direction(outcome.baseline, outcome.target),
                    outcome.target_date,
                    _label(OUTCOME_STATUSES, outcome.status),
                )
            )
        out += _table(
            (
                "Outcome",
                "Metric",
                "Baseline",
                "Target",
                "Current",
                "Progress",
                "Direction",
                "Target date",
                "Status",
            ),
            rows,
        )
    else:
        out.append("No outcomes yet.")
    out.append("")

    out += ["## 3. Milestones", ""]
    if plan.milestones:
        out += _table(
            (
                "Phase",
                "Milestone",
                "Target date",
                "Success criteria",
                "Owner",
                "Status",
                "Completed",
            ),
            [
                (
                    milestone.phase.capitalize() if milestone.phase else None,
                    milestone.title,
                    _overdue(milestone.target_date, milestone.id in insights.overdue_milestone_ids),
                    milestone.success_criteria,
                    milestone.owner_name,
                    _label(MILESTONE_STATUSES, milestone.status),
                    milestone.completed_on,
                )
                for milestone in plan.milestones
            ],
        )
    else:
        out.append("No milestones yet.")
    out.append("")

    out += ["## 4. Stakeholder map", ""]
    if plan.stakeholders:
        rows = []
        for person in plan.stakeholders:
            contact = person.contact
            rows.append(
                (
                    person.person_name,
                    "Customer" if contact is not None else "Internal",
                    _label(STAKEHOLDER_ROLES, person.role),
                    contact.title if contact else None,
                    contact.email if contact else person.user.email,
                    _label(INFLUENCE_LEVELS, contact.influence) if contact else None,
                    _label(ENGAGEMENT_LEVELS, contact.engagement) if contact else None,
                    contact.last_contact_on if contact else None,
                    ("Departed" if contact.status == "departed" else "Active") if contact else None,
                    person.notes,
                )
            )
        out += _table(
            (
                "Name",
                "Side",
                "Role",
                "Title",
                "Email",
                "Influence",
                "Engagement",
                "Last contact",
                "Status",
                "Notes",
            ),
            rows,
        )
    else:
        out.append("No stakeholders yet.")
    out.append("")

    out += ["## 5. Risk register", ""]
    if plan.risks:
        out += _table(
            (
                "Risk",
                "Category",
                "Likelihood",
                "Impact",
                "Severity",
                "Mitigation",
                "Owner",
                "Status",
            ),
            [
                (
                    risk.title,
                    _label(RISK_CATEGORIES, risk.category),
                    _label(LEVELS, risk.likelihood),
                    _label(LEVELS, risk.impact),
                    insights.risk_severity.get(risk.id, "").capitalize() or None,
                    risk.mitigation,
                    risk.owner_name,
                    _label(RISK_STATUSES, risk.status),
                )
                for risk in plan.risks
            ],
        )
    else:
        out.append("No risks recorded.")
    out.append("")

    out += ["## 6. Action items", ""]
    if plan.actions:
        out += _table(
            ("Action", "Owner", "Due", "Status", "Milestone", "Completed"),
            [
                (
                    action.title,
                    action.owner_name,
                    _overdue(action.due_date, action.id in insights.overdue_action_ids),
                    _label(ACTION_STATUSES, action.status),
                    action.milestone.title if action.milestone else None,
                    action.completed_on,
                )
                for action in plan.actions
            ],
        )
    else:
        out.append("No action items yet.")
    out.append("")

    out += ["## 7. Review cadence and log", ""]
    out += [
        f"- **Cadence:** {_inline(_label(REVIEW_CADENCES, plan.review_cadence))}",
        f"- **Last review:** {_inline(plan.last_reviewed_on)}",
        f"- **Next review:** {next_review}",
        "",
    ]
    if plan.reviews:
        out += _table(
            ("Date", "Attendees", "Notes", "Recorded by"),
            [
                (
                    review.held_on,
                    review.attendees,
                    review.notes,
                    review.recorded_by.name if review.recorded_by else None,
                )
                for review in plan.reviews
            ],
        )
    else:
        out.append("No reviews logged yet.")
    out.append("")
    return "\n".join(out)


def _direction(baseline: float | None, target: float | None) -> str | None:
    if baseline is None or target is None or baseline == target:
        return None
    return "lower is better" if progress.lower_is_better(baseline, target) else "higher is better"


def _overdue(day: date | None, overdue: bool) -> str | None:
    if day is None:
        return None
    return f"{day.isoformat()} {OVERDUE}" if overdue else day.isoformat()
