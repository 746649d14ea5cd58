"""POST /sms through the Flask test client, with a real Redis and real RQ."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from twilio.request_validator import RequestValidator

from intake.config import Settings
from intake.queues import JobQueue
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE, Store
from tests.support.stores import make_store

from .conftest import TEXTER, replies, sign, twilio_sms_params

Text = Callable[..., list[str]]


def store(app: Flask) -> Store:
    return app.extensions["intake"].store


def run_worker(redis_conn: Any) -> None:
    queues = [
        JobQueue(URGENT_QUEUE, connection=redis_conn),
        JobQueue(DEFAULT_QUEUE, connection=redis_conn),
    ]
    SimpleWorker(queues, connection=redis_conn, serializer=JSONSerializer).work(burst=True)


def test_it_rejects_a_missing_signature_and_stores_nothing(
    client: FlaskClient, redis_conn: Any
) -> None:
    response = client.post("/sms", data=twilio_sms_params("CALL", TEXTER))
    assert response.status_code == 403
    assert redis_conn.dbsize() == 0


def test_it_rejects_a_wrong_signature(
    client: FlaskClient, settings: Settings, redis_conn: Any
) -> None:
    params = twilio_sms_params("hi", TEXTER)
    signature = sign(settings, "/sms", params)
    params["Body"] = "tampered"
    response = client.post("/sms", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    other_url = sign(settings, "/voice", params)
    response = client.post("/sms", data=params, headers={"X-Twilio-Signature": other_url})
    assert response.status_code == 403
    assert redis_conn.dbsize() == 0


def test_it_checks_the_signature_against_the_query_string(
    client: FlaskClient, settings: Settings
) -> None:
    params = twilio_sms_params("hi", TEXTER)
    good = sign(settings, "/sms?channel=main", params)
    assert (
        client.post(
            "/sms?channel=main", data=params, headers={"X-Twilio-Signature": good}
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/sms?channel=other", data=params, headers={"X-Twilio-Signature": good}
        ).status_code
        == 403
    )


def test_a_signature_in_any_characters_gets_a_403_not_a_500(client: FlaskClient) -> None:
    params = twilio_sms_params("hi", TEXTER)
    for signature in ("ñ" * 28, "é", " ", "x" * 500):
        response = client.post("/sms", data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 403, signature


def test_it_accepts_the_url_signed_with_or_without_its_port(
    client: FlaskClient, settings: Settings
) -> None:
    """Twilio signs the URL as configured: with the scheme's port written out or not."""
    scheme, rest = settings.public_base_url.split("://", 1)
    host, _, path = rest.partition("/")
    port = "443" if scheme == "https" else "80"
    with_port = f"{scheme}://{host}:{port}" + (f"/{path}" if path else "") + "/sms"
    validator = RequestValidator(settings.twilio_auth_token)
    for url in (settings.public_base_url + "/sms", with_port):
        params = twilio_sms_params("hi", TEXTER)
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
        assert client.post("/sms", data=params, headers=headers).status_code == 200, url
    wrong_port = with_port.replace(f":{port}/", ":8443/")
    headers = {"X-Twilio-Signature": validator.compute_signature(wrong_port, params)}
    assert client.post("/sms", data=params, headers=headers).status_code == 403


def test_it_welcomes_a_new_number_with_the_menu(text: Text) -> None:
    messages = text("Hello?")
    assert len(messages) == 2
    assert "Reply STOP to opt out" in messages[0]
    assert "OPIOIDS" in messages[1] and "CALL" in messages[1]


def test_it_ignores_unknown_extra_parameters(text: Text) -> None:
    messages = text("OPIOIDS", FromCity="TAMPA", SmsStatus="received", SomethingNew="x")
    assert any("receptor" in m for m in messages)


def test_it_answers_a_repeated_message_sid_once(text: Text, app: Flask) -> None:
    text("hi")
    first = text("CALL", sid="SM" + "1" * 32)
    again = text("CALL", sid="SM" + "1" * 32)
    assert first and not again
    session = store(app).load_session("sms", TEXTER)
    assert session is not None and session.state == "callback_name" and session.attempts == 0


def test_it_handles_two_messages_at_once_one_after_the_other(
    app: Flask, settings: Settings
) -> None:
    topics = ["OPIOIDS", "EFFECTS", "DEPRESSION", "ANXIETY", "TREATMENT", "DUAL"]
    app.test_client().post(
        "/sms",
        data=(p := twilio_sms_params("hi", TEXTER)),
        headers={"X-Twilio-Signature": sign(settings, "/sms", p)},
    )
    barrier = threading.Barrier(len(topics))
    statuses: list[int] = []

    def send(body: str) -> None:
        params = twilio_sms_params(body, TEXTER)
        headers = {"X-Twilio-Signature": sign(settings, "/sms", params)}
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/sms", data=params, headers=headers).status_code)

    threads = [threading.Thread(target=send, args=(t,)) for t in topics]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * len(topics)
    session = store(app).load_session("sms", TEXTER)
    assert session is not None
    assert sorted(session.topics) == sorted(t.lower() for t in topics)


def test_it_keeps_sessions_for_the_configured_ttl(text: Text, app: Flask, redis_conn: Any) -> None:
    text("hi")
    ttl = redis_conn.ttl(store(app).session_key("sms", TEXTER))
    assert 24 * 3600 - 10 < ttl <= 24 * 3600


def test_it_restarts_an_expired_session_politely(
    text: Text, app: Flask, client: FlaskClient
) -> None:
    text("hi")
    text("CALL")
    # what the TTL does after a day: Redis forgets the session, Twilio its cookie copy
    store(app).delete_session("sms", TEXTER)
    client.delete_cookie("intake_sms", path="/sms")
    messages = text("Sam")
    assert "Welcome back" in messages[0]
    assert "OPIOIDS" in messages[-1]


def test_it_sends_nothing_after_stop_until_start(text: Text, app: Flask) -> None:
    text("hi")
    confirmation = text("STOP")
    assert len(confirmation) == 1 and "START" in confirmation[0]
    assert store(app).is_opted_out(TEXTER)
    assert text("HELP") == []
    assert text("OPIOIDS") == []
    assert text("MENU") == []
    back = text("start")
    assert "subscribed" in back[0]
    assert not store(app).is_opted_out(TEXTER)
    assert text("DUAL")


def test_it_still_alerts_staff_when_an_opted_out_number_writes_crisis_language(
    text: Text, redis_conn: Any, app: Flask
) -> None:
    text("STOP")
    assert text("i took too many pills") == []
    run_worker(redis_conn)
    [task] = store(app).list_tasks()
    assert task.kind == "crisis" and task.priority == "urgent"
    assert task.text_ok is None


def test_it_answers_crisis_language_at_once_and_queues_an_urgent_task(
    text: Text, redis_conn: Any, app: Flask
) -> None:
    text("hi")
    text("CALL")
    messages = text("I want to end my life")
    assert len(messages) == 1
    assert "988" in messages[0] and "911" in messages[0] and "(727) 391-7001" in messages[0]
    assert JobQueue(URGENT_QUEUE, connection=redis_conn).count == 1
    text("i might kill myself")  # same conversation: still one urgent task
    run_worker(redis_conn)
    [task] = store(app).list_tasks()
    assert (task.kind, task.priority, task.callback_number) == ("crisis", "urgent", TEXTER)
    session = store(app).load_session("sms", TEXTER)
    assert session is not None and session.state == "callback_name"


def test_it_queues_a_callback_task_that_a_worker_writes(
    text: Text, redis_conn: Any, app: Flask
) -> None:
    for body in ["ANXIETY", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES"]:
        text(body)
    assert JobQueue(DEFAULT_QUEUE, connection=redis_conn).count == 0
    done = text("YES")
    assert "(312) 555-0199" in done[0]
    queue = JobQueue(DEFAULT_QUEUE, connection=redis_conn)
    [job] = queue.get_jobs()
    assert job.func_name == "workers.jobs.create_task"
    run_worker(redis_conn)
    [task] = store(app).list_tasks()
    assert task.as_json() | {"id": "-", "created_at": "-"} == {
        "id": "-",
        "kind": "callback",
        "priority": "normal",
        "status": "new",
        "created_at": "-",
        "channel": "sms",
        "language": "en",
        "from_number": TEXTER,
        "callback_number": TEXTER,
        "name": "Sam",
        "best_time": "evening",
        "best_time_window": "evening",
        "for_whom": "self",
        "voicemail_ok": False,
        "text_ok": True,
        "topics": ["anxiety"],
    }
    assert store(app).notifications_due() == [task.id]


def test_it_apologises_with_the_admissions_number_instead_of_a_500(
    text: Text, app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError(f"cannot handle {TEXTER}: my secret message")

    monkeypatch.setattr(app.extensions["intake"].conversations, "step", broken)
    with caplog.at_level(logging.INFO):
        messages = text("my secret message")
    assert len(messages) == 1 and "(727) 391-7001" in messages[0] and "988" in messages[0]
    assert "ValueError" in caplog.text
    assert TEXTER not in caplog.text and "secret" not in caplog.text


def test_it_answers_as_usual_when_redis_is_down(
    settings: Settings, redis_conn: Any, text: Text
) -> None:
    from dataclasses import replace

    from intake import create_app

    app = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    params = twilio_sms_params("hi", TEXTER)
    response = app.test_client().post(
        "/sms", data=params, headers={"X-Twilio-Signature": sign(settings, "/sms", params)}
    )
    assert response.status_code == 200
    assert replies(response.data) == text("hi")  # the same welcome as with Redis up


def test_it_logs_no_numbers_or_message_bodies(
    text: Text, caplog: pytest.LogCaptureFixture, redis_conn: Any
) -> None:
    bodies = [
        "hi",
        "CALL",
        "Samantha",
        "(727) 555-0100",
        "after dinner",
        "other",
        "yes",
        "yes",
        "yes",
        "I want to die",
        "STOP",
    ]
    with caplog.at_level(logging.DEBUG):
        for body in bodies:
            text(body)
        run_worker(redis_conn)
    logged = caplog.text
    assert "sms" in logged  # something was logged
    for secret in [TEXTER, "3125550199", "7275550100", "Samantha", "after dinner", "want to die"]:
        assert secret not in logged


def test_it_answers_a_message_without_from_with_empty_twiml(
    client: FlaskClient, settings: Settings
) -> None:
    params = twilio_sms_params("hi", "")
    response = client.post(
        "/sms", data=params, headers={"X-Twilio-Signature": sign(settings, "/sms", params)}
    )
    assert response.status_code == 200
    assert replies(response.data) == []


def test_it_answers_in_time_when_redis_hangs(
    settings: Settings, redis_conn: Any, text: Text
) -> None:
    import socket
    import time
    from dataclasses import replace

    from intake import create_app

    silent = socket.socket()  # accepts connections and never answers, like a partitioned Redis
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        app = create_app(replace(settings, redis_url=url, redis_timeout_seconds=0.5))
        params = twilio_sms_params("hi", TEXTER)
        started = time.monotonic()
        response = app.test_client().post(
            "/sms", data=params, headers={"X-Twilio-Signature": sign(settings, "/sms", params)}
        )
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert response.status_code == 200
    assert replies(response.data) == text("hi")  # the welcome, without Redis
    assert elapsed < 10  # Twilio gives up after 15 s; the answer must get there first


@pytest.mark.parametrize(
    ("body", "snippet_word"),
    [
        ("are opioids addictive?", "receptor"),
        ("tell me about depression", "depress"),
        ("i have really bad anxiety", "anxi"),
        ("what treatment do you offer", "treat"),
        ("anxeity", "anxi"),
        ("opiods", "receptor"),
    ],
)
def test_it_answers_a_first_question_in_free_words_with_its_snippet(
    text: Text, body: str, snippet_word: str
) -> None:
    welcome, snippet = text(body)
    assert "Helpline" in welcome
    assert snippet_word in snippet.lower()
    assert "automated text line" not in snippet


@pytest.mark.parametrize("body", ["i want it all to end", "i dont see the point of living anymore"])
def test_it_answers_natural_crisis_language_with_a_categorised_urgent_task(
    text: Text, redis_conn: Any, app: Flask, body: str
) -> None:
    [answer] = text(body)
    assert "988" in answer and "911" in answer
    run_worker(redis_conn)
    [task] = store(app).list_tasks()
    assert (task.kind, task.priority, task.crisis_category) == ("crisis", "urgent", "suicide")


def test_it_keeps_a_callback_said_in_natural_words_with_its_window(
    text: Text, redis_conn: Any, app: Flask
) -> None:
    text("can someone call me tonight after 6")
    for body in ["my name is Jess", "yes thats fine", "its for my brother", "no please dont"]:
        text(body)
    text("sure go ahead")
    [done] = text("yep")
    assert "Thank you" in done
    run_worker(redis_conn)
    [task] = store(app).list_tasks()
    assert (task.name, task.for_whom, task.for_whom_detail) == ("Jess", "other", "brother")
    assert (task.voicemail_ok, task.text_ok) == (False, True)
    assert task.best_time is not None and task.best_time.endswith("6 PM to 9 PM")
    tz = app.extensions["intake"].settings.business_timezone
    assert task.best_time_start is not None and task.best_time_end is not None
    start, end = task.best_time_start.astimezone(tz), task.best_time_end.astimezone(tz)
    assert (start.hour, end.hour) == (18, 21)
    # Never due before the person asked: 18:00, not the evening window's 17:00.
    assert task.due_at is not None and task.due_at >= task.best_time_start


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "😭😭😭🙏",
        "x" * 1600,
        "אני צריך עזרה עם התמכרות",  # right to left
        "مرحبا I need ayuda 你好",  # mixed scripts
        "\u202e\u202dhello\u200f",
    ],
    ids=["empty", "spaces", "emoji-only", "1600-chars", "rtl", "mixed-script", "bidi-marks"],
)
def test_it_answers_odd_input_in_at_most_two_segments(text: Text, body: str) -> None:
    from intake.flow.segments import segment_count

    text("hi")
    answers = text(body)
    assert answers, "every message gets an answer"
    assert all(segment_count(a) <= 2 for a in answers)


def test_a_session_cookie_older_than_the_session_ttl_brings_nothing_back(
    app: Flask, client: FlaskClient, text: Text, settings: Settings, redis_conn: Any
) -> None:
    import time

    from intake.web import carry

    text("hi")
    text("CALL")
    cookie = client.get_cookie(carry.COOKIE, path="/sms")
    assert cookie is not None
    keys = app.extensions["intake"].keys
    payload = keys.decrypt((cookie.value + "=" * (-len(cookie.value) % 4)).encode())
    store = make_store(redis_conn)
    assert (store.load_session("sms", TEXTER) or pytest.fail()).state.startswith("callback")

    def resend_with_cookie_sealed_at(at: int) -> str:
        """Redis forgot the session (TTL or purge); the cookie still holds a copy from `at`."""
        store.delete_session("sms", TEXTER)
        client.set_cookie(carry.COOKIE, keys.encrypt_at_time(payload, at).decode(), path="/sms")
        text("Sam")
        session = store.load_session("sms", TEXTER)
        assert session is not None
        return session.state

    assert resend_with_cookie_sealed_at(int(time.time())).startswith("callback")  # still fresh
    expired = int(time.time()) - settings.session_ttl_seconds - 60
    assert not resend_with_cookie_sealed_at(expired).startswith("callback")
