"""Outcome figures on the plan page read as numbers, however large or small."""

from __future__ import annotations

from cs_app.extensions import db
from tests.factories import OutcomeFactory, PlanFactory, UserFactory


def test_large_and_small_outcome_figures_are_written_out(client, login):
    owner = UserFactory()
    plan = PlanFactory(owner=owner)
    OutcomeFactory(
        plan=plan, unit="", baseline=1_200_000.0, target=2_500_000.0, current_value=1_750_000.5
    )
    OutcomeFactory(plan=plan, unit="%", baseline=0.125, target=0.05, current_value=0.08)
    db.session.commit()
    login(owner)
    html = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "1,200,000 → 2,500,000" in html and "1,750,000.5" in html
    assert "0.125 → 0.05%" in html and "0.08%" in html
    assert "e+06" not in html
