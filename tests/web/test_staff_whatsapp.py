"""The dashboard and WhatsApp tasks (issue 13): staff see "WhatsApp", and may text the person
back only there, at the number that wrote, through a job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq.serializers import JSONSerializer
from werkzeug.test import TestResponse

from intake.queues import JobQueue
from intake.store import DEFAULT_QUEUE

from .test_staff import ANA, NUMBER, Auth, add_staff, csrf_token, make_task, store_of, text


@pytest.fixture
def staff_app(app: Flask) -> Flask:
    add_staff(app, ANA)
    return app


@pytest.fixture
def ana(staff_app: Flask, client: FlaskClient) -> Auth:
    """Ana, signed in."""
    auth = Auth(client)
    assert auth.login().status_code == 303
    return auth


def post_message(auth: Auth, task_id: str, body: str) -> TestResponse:
    """The task page's WhatsApp form, posted with the page's CSRF token."""
    token = csrf_token(auth.client, f"/staff/tasks/{task_id}")
    return auth.client.post(
        f"/staff/tasks/{task_id}/message",
        data={"csrf_token": token, "body": body},
        follow_redirects=True,
    )


def add(app: Flask, **overrides: object) -> str:
    # As the conversation makes it: they said texts are fine.
    task = make_task("wa1", **{"channel": "whatsapp", "text_ok": True, **overrides})
    store_of(app).create_task(task)
    return task.id


def test_a_whatsapp_task_says_whatsapp_and_offers_a_whatsapp_message(
    ana: Auth, staff_app: Flask
) -> None:
    task_id = add(staff_app)
    store_of(staff_app).note_inbound("whatsapp", NUMBER, datetime.now(UTC) - timedelta(hours=2))
    page = text(ana.client.get(f"/staff/tasks/{task_id}"))
    assert "Came in by WhatsApp" in page
    assert "Message to +1 312-555-0142 on WhatsApp (never by SMS)" in page
    assert "a message goes as written until" in page


def test_outside_the_24_hours_the_page_says_what_can_go(ana: Auth, staff_app: Flask) -> None:
    task_id = add(staff_app)
    page = text(ana.client.get(f"/staff/tasks/{task_id}"))
    assert "no template is configured: nothing can be sent; call them" in page


def test_an_sms_or_voice_task_has_no_message_form_and_refuses_one(
    ana: Auth, staff_app: Flask, redis_conn: Redis
) -> None:
    for channel, task_id in (("sms", "sm1"), ("voice", "vo1")):
        store_of(staff_app).create_task(make_task(task_id, channel=channel))
        page = ana.client.get(f"/staff/tasks/{task_id}").get_data(as_text=True)
        assert "Send on WhatsApp" not in page
        answer = post_message(ana, task_id, "Hi")  # posted by hand: no form
        assert answer.status_code == 200
        assert "Not sent: only a WhatsApp task can be answered by message" in text(answer)
    assert redis_conn.keys("intake:message:*") == []


def test_a_message_is_staged_sealed_and_queued_by_ids_only(
    ana: Auth, staff_app: Flask, redis_conn: Redis
) -> None:
    task_id = add(staff_app)
    answer = post_message(ana, task_id, "Hi Sam, this is Ana from admissions")
    assert "Message queued on WhatsApp" in text(answer)
    [job] = JobQueue(DEFAULT_QUEUE, connection=redis_conn, serializer=JSONSerializer).get_jobs()
    assert job.func_name == "workers.jobs.message_person"
    assert job.args[0] == task_id and len(job.args) == 2
    assert "Sam" not in str(job.args) and NUMBER not in str(job.args)
    [key] = redis_conn.keys("intake:message:*")
    raw = redis_conn.get(key)
    assert raw is not None and raw.startswith(b"gAAAAA") and b"Sam" not in raw
    audit = [(e.by, e.action) for e in store_of(staff_app).audit(task_id)]
    assert ("ana@center.org", "message_queued") in audit


def test_no_message_to_someone_who_said_no_to_texts(ana: Auth, staff_app: Flask) -> None:
    task_id = add(staff_app, text_ok=False)
    page = text(ana.client.get(f"/staff/tasks/{task_id}"))
    assert "They asked not to be texted: call them." in page
    answer = post_message(ana, task_id, "Hi")
    assert "Not sent: they asked not to be texted" in text(answer)
