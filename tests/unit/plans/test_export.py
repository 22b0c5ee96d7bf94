"""The Markdown export of a plan: no app, no database — plain objects in, text out."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from cs_app.plans import progress
from cs_app.plans.export import cell, export_filename, plan_markdown, slugify

TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("a | b", "a \\| b"),
        ("line one\nline two", "line one<br>line two"),
        ("windows\r\nbreak\rold mac", "windows<br>break<br>old mac"),
        ("back\\slash|pipe", "back\\\\slash\\|pipe"),
        ("", "—"),
        (None, "—"),
        (8.0, "8"),
        (57.5, "57.5"),
        (date(2026, 1, 2), "2026-01-02"),
    ],
)
def test_cell_is_safe_inside_a_table(value, expected):
    assert cell(value) == expected


@pytest.mark.parametrize(
    "text, slug",
    [
        ("Acme Corp — Joint plan 2027", "acme-corp-joint-plan-2027"),
        ("Café Déjà Vu", "cafe-deja-vu"),
        ("  --Already--slugged--  ", "already-slugged"),
        ("!!!", ""),
    ],
)
def test_slugify(text, slug):
    assert slugify(text) == slug


def test_filename_falls_back_to_the_plan_id():
    plan = SimpleNamespace(id=7, title="???", account=SimpleNamespace(name="—"))
    assert export_filename(plan) == "plan-7.md"
    plan = SimpleNamespace(id=7, title="Q1 plan", account=SimpleNamespace(name="Acme | Corp"))
    assert export_filename(plan) == "acme-corp-q1-plan.md"


def owner(name):
    return SimpleNamespace(name=name, email=f"{name.lower()}@example.com")


def sample_plan():
    chris = owner("Chris")
    account = SimpleNamespace(
        name="Acme | Corp",
        external_id="ACC-1",
        domain="acme.example",
        industry="SaaS",
        employees=500,
        segment="Enterprise",
        engagement_model="joint",
        arr_minor=8_500_000,
        currency="USD",
        contract_start=date(2026, 1, 15),
        renewal_date=date(2027, 1, 15),
        csm=chris,
        lifecycle_stage="adoption",
        product_plan="Pro",
        seats_purchased=120,
        primary_use_case="Consolidate tools\nand cut resolution time",
        purchase_trigger=None,
        previous_solutions="Three | legacy tools",
        strategic_priorities=None,
    )
    resolution = SimpleNamespace(
        id=1,
        title="Faster resolution",
        metric="Resolution time",
        unit="h",
        baseline=18.0,
        target=8.0,
        current_value=13.0,
        target_date=date(2027, 5, 1),
        status="on_track",
    )
    adoption = SimpleNamespace(
        id=2,
        title="Adoption",
        metric="Active users",
        unit="%",
        baseline=40.0,
        target=75.0,
        current_value=57.5,
        target_date=None,
        status="at_risk",
    )
    milestone = SimpleNamespace(
        id=1,
        phase="implementation",
        title="Data migrated",
        target_date=date(2026, 11, 1),
        success_criteria="All | data",
        owner_name="Chris",
        status="planned",
        completed_on=None,
    )
    sarah = SimpleNamespace(
        name="Sarah",
        title="VP Support",
        email="sarah@acme.example",
        influence="decision_maker",
        engagement="high",
        last_contact_on=date(2026, 11, 10),
        status="active",
    )
    stakeholder = SimpleNamespace(
        person_name="Sarah", contact=sarah, user=None, role="executive_sponsor", notes=None
    )
    internal = SimpleNamespace(
        person_name="Chris", contact=None, user=chris, role="csm", notes="Owns the plan"
    )
    risk = SimpleNamespace(
        id=1,
        title="Budget freeze",
        category="budget_cuts",
        likelihood="high",
        impact="high",
        mitigation="Escalate",
        owner_name="Chris",
        status="open",
    )
    action = SimpleNamespace(
        id=1,
        title="Send the export",
        owner_name="Sarah",
        due_date=date(2026, 11, 10),
        status="open",
        milestone=milestone,
        completed_on=None,
    )
    review = SimpleNamespace(
        held_on=date(2026, 10, 2),
        attendees="Sarah, Chris",
        notes="Went well\nnext: QBR",
        recorded_by=chris,
    )
    return SimpleNamespace(
        id=1,
        account=account,
        title="Joint plan",
        plan_type="joint",
        status="active",
        owner=chris,
        review_cadence="monthly",
        last_reviewed_on=date(2026, 10, 2),
        next_review_on=date(2026, 11, 2),
        summary="Both teams | one goal.",
        outcomes=[resolution, adoption],
        milestones=[milestone],
        stakeholders=[stakeholder, internal],
        risks=[risk],
        actions=[action],
        reviews=[review],
    )


def sample_insights(plan):
    return SimpleNamespace(
        flags=[progress.PlanFlag("review_overdue", "Review overdue by 19 days.")],
        overdue_action_ids={1},
        overdue_milestone_ids={1},
        risk_severity={r.id: progress.risk_severity(r.likelihood, r.impact) for r in plan.risks},
        outcome_progress={
            o.id: progress.outcome_progress(o.baseline, o.target, o.current_value)
            for o in plan.outcomes
        },
        review_overdue=True,
    )


def row(text: str, starts: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(starts))


def test_markdown_has_every_component_and_the_flags():
    plan = sample_plan()
    text = plan_markdown(plan, sample_insights(plan), TODAY)
    assert text.startswith("# Acme | Corp — Joint plan\n")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[1:] == [
        "## Flags",
        "## 1. Customer profile and context",
        "### Business context",
        "## 2. Success outcomes",
        "## 3. Milestones",
        "## 4. Stakeholder map",
        "## 5. Risk register",
        "## 6. Action items",
        "## 7. Review cadence and log",
    ]
    assert "- Review overdue by 19 days." in text
    assert "- **Next review:** 2026-11-02 **OVERDUE**" in text
    assert "| ARR | $85,000 |" in text
    assert "| Primary use case | Consolidate tools<br>and cut resolution time |" in text
    assert "| Previous solutions | Three \\| legacy tools |" in text


def test_progress_is_right_when_lower_is_better():
    plan = sample_plan()
    text = plan_markdown(plan, sample_insights(plan), TODAY)
    assert row(text, "| Faster resolution") == (
        "| Faster resolution | Resolution time | 18 h | 8 h | 13 h | 50% | lower is better "
        "| 2027-05-01 | On track |"
    )
    assert row(text, "| Adoption") == (
        "| Adoption | Active users | 40% | 75% | 57.5% | 50% | higher is better | — | At risk |"
    )


def test_tables_keep_their_columns_when_cells_hold_pipes():
    plan = sample_plan()
    text = plan_markdown(plan, sample_insights(plan), TODAY)
    milestone = row(text, "| Implementation")
    assert "All \\| data" in milestone
    unescaped_pipes = milestone.replace("\\|", "").count("|")
    assert unescaped_pipes == 8  # seven columns
    assert "2026-11-01 **OVERDUE**" in milestone


def test_risks_actions_stakeholders_and_reviews():
    plan = sample_plan()
    text = plan_markdown(plan, sample_insights(plan), TODAY)
    assert row(text, "| Budget freeze") == (
        "| Budget freeze | Budget cuts | High | High | Critical | Escalate | Chris | Open |"
    )
    assert row(text, "| Send the export") == (
        "| Send the export | Sarah | 2026-11-10 **OVERDUE** | Open | Data migrated | — |"
    )
    assert "| Sarah | Customer | Executive sponsor | VP Support | sarah@acme.example |" in text
    assert "| Chris | Internal | CSM |" in text
    assert row(text, "| 2026-10-02") == (
        "| 2026-10-02 | Sarah, Chris | Went well<br>next: QBR | Chris |"
    )


def test_empty_plan_says_so_in_each_section():
    plan = sample_plan()
    for name in ("outcomes", "milestones", "stakeholders", "risks", "actions", "reviews"):
        setattr(plan, name, [])
    plan.summary = None
    insights = SimpleNamespace(
        flags=[],
        overdue_action_ids=set(),
        overdue_milestone_ids=set(),
        risk_severity={},
        outcome_progress={},
        review_overdue=False,
    )
    text = plan_markdown(plan, insights, TODAY)
    for sentence in (
        "No flags",
        "No outcomes yet.",
        "No milestones yet.",
        "No stakeholders yet.",
        "No risks recorded.",
        "No action items yet.",
        "No reviews logged yet.",
    ):
        assert sentence in text
    assert "**OVERDUE**" not in text


ATTACKS = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
    "![pic](data:text/html;base64,PHNjcmlwdD4=) [tab](java\tscript:alert(4)) "
    "[ent](javascript&#58;alert(5)) <javascript:alert(6)>\n[ref]: vbscript:msgbox(7)\n"
)


def with_attacks(value, seen: set[int]):
    """Every text attribute of the plan, its account, people and items, holding ``ATTACKS``
    and its own name (to find it in the export)."""
    if id(value) in seen or not isinstance(value, SimpleNamespace | list):
        return
    seen.add(id(value))
    for item in value if isinstance(value, list) else vars(value).values():
        with_attacks(item, seen)
    if isinstance(value, SimpleNamespace):
        for name, attribute in vars(value).items():
            if isinstance(attribute, str):
                setattr(value, name, f"{name}: {ATTACKS}")


def test_what_people_typed_is_escaped_and_unsafe_links_dropped_in_every_field():
    plan = sample_plan()
    insights = sample_insights(plan)
    with_attacks(plan, set())
    insights.flags = [progress.PlanFlag("review_overdue", ATTACKS)]
    text = plan_markdown(plan, insights, TODAY)
    # no HTML, and no link or image whose target is a script or inline data (an autolink's
    # angle brackets are escaped, so what is left of it is text)
    for unsafe in ("<script", "<img", "<javascript", "](java", "](data", "vbscript", "&#58;"):
        assert unsafe not in text, unsafe
    assert "&lt;javascript:alert(6)&gt;" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # every text field that is exported came through, escaped: none was simply left out
    for name in ("title", "summary", "primary_use_case", "mitigation", "notes", "attendees"):
        assert f"{name}: &lt;script&gt;" in text, name
    assert text.count("&lt;script&gt;") >= 30


def test_safe_links_stay_links():
    plan = sample_plan()
    plan.summary = "See [the deck](https://example.com/deck) and [the plan](/plans/1)."
    text = plan_markdown(plan, sample_insights(plan), TODAY)
    assert "[the deck](https://example.com/deck)" in text and "[the plan](/plans/1)" in text
