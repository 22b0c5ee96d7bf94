"""A joint plan shared read-only with the customer through a revocable link; plan export.

The customer's page needs no sign-in: the unguessable token in the address is the key, and
only its SHA-256 is stored, so a link is shown once when it is made. The page shows what a
joint plan shares with the customer (outcomes, milestones, actions, who is involved, the review
schedule) and leaves out what is internal (risk register, notes, history, emails, ARR).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup

from cs_app.auth.permissions import can_edit_plan
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.plans import service
from cs_app.plans.export import export_filename, plan_markdown
from cs_app.plans.models import (
    ACTION_STATUSES,
    MILESTONE_STATUSES,
    OUTCOME_STATUSES,
    PLAN_STATUSES,
    REVIEW_CADENCES,
    STAKEHOLDER_ROLES,
    Plan,
)

bp = Blueprint("share", __name__)

MAX_TOKEN_LENGTH = 200
SHARED_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the token is in the address; never pass it on
}


def _editable_plan(plan_id: int) -> Plan:
    plan = service.get_plan(plan_id)
    if not can_edit_plan(current_user, plan):
        abort(403)
    return plan


@bp.route("/plans/<int:plan_id>/share", methods=["POST"])
@login_required
def create_link(plan_id: int):
    plan = _editable_plan(plan_id)
    try:
        token = service.create_share_link(plan, user=current_user, now=utcnow())
    except ValidationError as error:
        db.session.rollback()
        flash(error.message + " Change the plan type to joint to share it.", "error")
        return redirect(url_for("plans.show", plan_id=plan_id))
    db.session.commit()
    link = url_for("share.view", token=token, _external=True)
    flash(
        Markup(
            "Share link created. Copy it now: it is shown only this once (only a fingerprint of it "
            'is stored).<br><code class="sharelink">{}</code><br>Anyone with the link can read '
            "the plan without signing in. If it gets lost, create a new link; revoking stops every "
            "link of this plan at once."
        ).format(link),
        "success",
    )
    return redirect(url_for("plans.show", plan_id=plan_id))


@bp.route("/plans/<int:plan_id>/share/revoke", methods=["POST"])
@login_required
def revoke_links(plan_id: int):
    plan = _editable_plan(plan_id)
    revoked = service.revoke_share_links(plan, user=current_user, now=utcnow())
    db.session.commit()
    if revoked:
        noun = "link" if revoked == 1 else "links"
        flash(f"Revoked {revoked} share {noun}; they no longer open the plan.", "success")
    else:
        flash("This plan had no active share links.", "info")
    return redirect(url_for("plans.show", plan_id=plan_id))


@bp.route("/share/<token>")
def view(token: str):
    now = utcnow()
    plan = None
    if len(token) <= MAX_TOKEN_LENGTH:
        plan = service.plan_for_share_token(token, now=now)
    if plan is None or plan.plan_type != "joint":
        db.session.rollback()
        response = make_response(render_template("plans/shared.html", plan=None), 404)
    else:
        today = now.date()
        insights = service.plan_insights(
            plan, today=today, dark_after_days=current_app.config["STAKEHOLDER_DARK_DAYS"]
        )
        response = make_response(
            render_template(
                "plans/shared.html",
                plan=plan,
                insights=insights,
                today=today,
                customer_people=[
                    s
                    for s in plan.stakeholders
                    if s.contact is not None and s.contact.status != "departed"
                ],
                our_people=[s for s in plan.stakeholders if s.user is not None],
                roles=STAKEHOLDER_ROLES,
                outcome_statuses=OUTCOME_STATUSES,
                milestone_statuses=MILESTONE_STATUSES,
                action_statuses=ACTION_STATUSES,
                plan_statuses=PLAN_STATUSES,
                cadences=REVIEW_CADENCES,
            )
        )
        db.session.commit()  # the link's last_viewed_at
    response.headers.update(SHARED_PAGE_HEADERS)
    return response


@bp.route("/plans/<int:plan_id>/export.md")
@login_required
def export_markdown(plan_id: int):
    """Everyone signed in reads every plan, so everyone may export it."""
    plan = service.get_plan(plan_id)
    today = utcnow().date()
    insights = service.plan_insights(
        plan, today=today, dark_after_days=current_app.config["STAKEHOLDER_DARK_DAYS"]
    )
    response = Response(plan_markdown(plan, insights, today), mimetype="text/markdown")
    response.headers["Content-Disposition"] = f'attachment; filename="{export_filename(plan)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
