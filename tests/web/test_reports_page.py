"""/staff/reports over the test client: the figures for a chosen range, charts, the admins' CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask

from intake import reports
from intake.store import Store
from tests.desk.test_reports import MONDAY, NAME, timeline
from tests.support import factories

from .test_sms import run_worker
from .test_staff import ANA, BO, Auth, add_staff, text


def populated(app: Flask) -> Store:
    services = app.extensions["intake"]
    timeline(services.store, services.redis, services.settings, MONDAY)
    return services.store


RANGE = f"since={MONDAY.isoformat()}&until={(MONDAY + timedelta(days=1)).isoformat()}"


def test_it_shows_the_figures_and_charts_for_the_chosen_range(app: Flask) -> None:
    add_staff(app, ANA)
    populated(app)
    auth = Auth(app.test_client())
    auth.login()
    page = auth.client.get(f"/staff/reports?{RANGE}")
    assert page.status_code == 200
    shown = text(page)
    assert "8 min median time to claim (p90 1 h 30 min)" in shown
    assert "50% claimed within target" in shown
    assert "10 min median to first attempt (p90 1 h 40 min)" in shown
    assert "50% contact rate (2 reached / 4 attempted)" in shown
    assert "2 crisis tasks" in shown
    body = page.get_data(as_text=True)
    funnel = body[body.index('id="chart-funnel"') : body.index('id="chart-claim-by-hour"')]
    assert funnel.count('<rect class="bar"') == 4
    outcomes = body[body.index('id="chart-outcomes"') :]
    assert "<title>Declined: 1</title>" in outcomes
    hours = body[body.index('id="chart-claim-by-hour"') : body.index('id="chart-outcomes"')]
    assert "<title>14: 3 min</title>" in hours and hours.count('<rect class="bar"') == 24
    by_hour = body[body.index('id="by-hour"') : body.index('id="by-weekday"')]
    assert re.findall(r'<th scope="row">(\d\d:00)</th>', by_hour) == [
        "09:00",
        "14:00",
        "15:00",
        "16:00",
    ]
    assert "Download CSV" not in shown  # admins only
    assert NAME not in body and factories.NUMBER not in body
    # Only Monday: Tuesday's two callbacks are left out.
    monday = text(auth.client.get(f"/staff/reports?since={MONDAY}&until={MONDAY}"))
    assert "67% claimed within target" in monday


def test_it_says_what_was_wrong_with_a_range_and_shows_the_last_30_days(app: Flask) -> None:
    add_staff(app, ANA)
    auth = Auth(app.test_client())
    auth.login()
    shown = text(auth.client.get("/staff/reports?since=2026-11-05&until=2026-11-01"))
    assert "The range ends before it starts: last 30 days." in shown
    shown = text(auth.client.get("/staff/reports?since=nope"))
    assert "Dates are YYYY-MM-DD" in shown


def test_the_csv_is_for_admins_only_and_holds_the_same_figures(app: Flask) -> None:
    add_staff(app, ANA)
    add_staff(app, BO, role="admin")
    populated(app)
    ana = Auth(app.test_client())
    ana.login()
    assert ana.client.get(f"/staff/admin/reports.csv?{RANGE}").status_code == 403
    bo = Auth(app.test_client())
    bo.login(BO)
    assert "Download CSV" in text(bo.client.get(f"/staff/reports?{RANGE}"))
    response = bo.client.get(f"/staff/admin/reports.csv?{RANGE}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    overall = rows[0]
    assert (overall["dimension"], overall["group"]) == ("all", "all")
    assert (overall["claim_median_s"], overall["claim_p90_s"]) == ("480", "5400")
    assert (overall["contact_rate"], overall["outcome_declined"]) == ("0.5", "1")
    assert {r["dimension"] for r in rows} == {
        "all",
        "channel",
        "language",
        "priority",
        "hour",
        "weekday",
    }
    urgent = next(r for r in rows if r["group"] == "urgent")
    assert urgent["claimed_within_target"] == "0.5"
    body = response.get_data(as_text=True)
    assert NAME not in body and factories.NUMBER not in body


def test_the_funnel_counts_first_messages_callbacks_asked_for_and_completed(
    app: Flask, text: Callable[..., list[str]], redis_conn: Any
) -> None:
    other, third = "+13125550111", "+13125550122"
    for body in ["ANXIETY", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]:
        text(body)  # one conversation, to the end: a callback task
    text("hi", from_=other)
    text("CALL", from_=other)  # asked for a callback, gave no details
    text("Sam", from_=other)
    text("hi", from_=third)  # only a first message
    run_worker(redis_conn)
    services = app.extensions["intake"]
    today = datetime.now(services.settings.business_timezone).date()
    data: Any = reports.report(services.store, today, today, services.settings.business_timezone)
    funnel = {key: data["overall"][key] for key, _ in reports.FUNNEL}
    assert funnel == {
        "conversations": 3,
        "callback_requested": 2,
        "completed": 1,
        "reached": 0,
    }
    assert data["by"]["channel"]["sms"]["conversations"] == 3
