"""/staff/reports: speed to lead for a range of days, with charts; its CSV for admins."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date, datetime, timedelta
from typing import Any

from flask import Response, render_template, request
from flask_login import login_required

from ... import reports
from ...tasks import OUTCOMES
from . import charts
from .admin import _cell, admin_required
from .present import CHANNELS, LANGUAGES
from .views import bp, services

log = logging.getLogger(__name__)
MAX_DAYS = 366
OUTCOME_LABELS = {
    "no_answer": "No answer",
    "left_voicemail": "Left a voicemail",
    "reached": "Reached",
    "wrong_number": "Wrong number",
    "declined": "Declined",
}
DIMENSION_LABELS = {
    "channel": "Channel",
    "language": "Language",
    "priority": "Priority",
    "hour": "Hour of day",
    "weekday": "Day of week",
}


def chosen_range() -> tuple[date, date, str | None]:
    """The days asked for (?since=&until=, YYYY-MM-DD), else the last 30; and what was wrong."""
    today = datetime.now(services().settings.business_timezone).date()
    since, until = reports.default_range(today)
    try:
        if request.args.get("since"):
            since = date.fromisoformat(request.args["since"])
        if request.args.get("until"):
            until = date.fromisoformat(request.args["until"])
    except ValueError:
        return (*reports.default_range(today), "Dates are YYYY-MM-DD: showing the last 30 days.")
    if until < since:
        return (*reports.default_range(today), "The range ends before it starts: last 30 days.")
    if (until - since).days >= MAX_DAYS:
        since = until - timedelta(days=MAX_DAYS - 1)
        return since, until, f"At most {MAX_DAYS} days at once: from {since.isoformat()}."
    return since, until, None


def group_label(dimension: str, group: str) -> str:
    if dimension == "channel":
        return CHANNELS.get(group, group)
    if dimension == "language":
        return LANGUAGES.get(group, group)
    if dimension == "hour":
        return f"{group}:00"
    return "—" if group == "-" else group


def chart_set(data: dict[str, Any]) -> list[charts.Chart]:
    """The funnel, time to claim by hour, and the outcome mix."""
    overall = data["overall"]
    funnel = [(label, overall[key], str(overall[key])) for key, label in reports.FUNNEL]
    hours = data["by"]["hour"]
    by_hour = []
    for hour in range(24):
        median = hours.get(f"{hour:02d}", {}).get("time_to_claim", {}).get("median")
        by_hour.append((f"{hour:02d}", median or 0, reports.duration(median)))
    outcomes = [
        (OUTCOME_LABELS[o], overall["outcomes"][o], str(overall["outcomes"][o])) for o in OUTCOMES
    ]
    return [
        charts.horizontal("Funnel: from first message to reached", funnel),
        charts.vertical("Median time to claim, by hour the request came in", by_hour),
        charts.horizontal("Outcome of each call attempt", outcomes),
    ]


@bp.get("/reports")
@login_required
def reports_page() -> str:
    """Speed to lead: the figures, charts and a table per dimension."""
    since, until, problem = chosen_range()
    data = reports.report(services().store, since, until, services().settings.business_timezone)
    return render_template(
        "staff/reports.html",
        data=data,
        since=since,
        until=until,
        problem=problem,
        charts=chart_set(data),
        dimensions=DIMENSION_LABELS,
        group_label=group_label,
        duration=reports.duration,
        percent=reports.percent,
        funnel=reports.FUNNEL,
    )


@bp.get("/admin/reports.csv")
@admin_required
def reports_csv() -> Response:
    """The same figures as CSV (counts and durations only: nothing personal)."""
    since, until, _ = chosen_range()
    data = reports.report(services().store, since, until, services().settings.business_timezone)
    out = io.StringIO()
    csv.writer(out).writerows([[_cell(v) for v in row] for row in reports.csv_rows(data)])
    log.info("staff export of the speed-to-lead report")
    name = f"speed-to-lead-{since.isoformat()}-{until.isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
