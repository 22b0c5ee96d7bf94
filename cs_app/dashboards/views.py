"""The portfolio dashboard and the CSV download of each of its charts."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import login_required

from cs_app.accounts.models import ENGAGEMENT_MODELS, SEGMENTS
from cs_app.dashboards import charts, export, queries
from cs_app.dashboards.queries import DashboardFilters
from cs_app.db_types import utcnow
from cs_app.health.scoring import BAND_LABELS
from cs_app.jobs.status import describe_schedule
from cs_app.scheduler import job_by_name

bp = Blueprint("dashboards", __name__)

WIDGET_NAMES = "any(" + ", ".join(f'"{name}"' for name in export.WIDGETS) + ")"


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Everyone signed in reads the dashboard (viewers included)."""


@bp.route("/dashboard")
def portfolio():
    filters = DashboardFilters.from_args(request.args)
    data = queries.portfolio(filters, utcnow().date())
    return render_template(
        "dashboards/portfolio.html",
        data=data,
        filters=filters,
        charts=charts.portfolio_charts(data, queries.BANDS, queries.SCORED_BANDS, BAND_LABELS),
        csm_options=queries.csm_choices(),
        segments=SEGMENTS,
        engagement_models=ENGAGEMENT_MODELS,
        unassigned=queries.UNASSIGNED,
        bands=queries.BANDS,
        band_labels=BAND_LABELS,
        recompute_schedule=describe_schedule(job_by_name("recompute-health")),
    )


@bp.route(f"/dashboard/<{WIDGET_NAMES}:widget>.csv")
def widget_csv(widget: str):
    filters = DashboardFilters.from_args(request.args)
    today = utcnow().date()
    body = export.widget_csv(widget, filters, today)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="dashboard-{widget}-{today.isoformat()}.csv"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
