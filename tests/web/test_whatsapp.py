"""WhatsApp through POST /sms (issue 13): Twilio's `whatsapp:+1...` senders, the same flow, the
channel on sessions and tasks, opt-out per channel and the 24-hour window's start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from tests.web.test_sms import run_worker, store

from .conftest import TEXTER

Text = Callable[..., list[str]]
WA = "whatsapp:" + TEXTER


def whatsapp(text: Text) -> Text:
    def send(body: str, **extra: str) -> list[str]:
        return text(body, WA, To="whatsapp:+14155238886", **extra)

    return send


def test_a_whatsapp_message_gets_the_sms_flow_with_its_formatting(text: Text, app: Flask) -> None:
    wa = whatsapp(text)(body="hi")
    sms = text("hi")
    assert len(wa) == len(sms) >= 2
    assert "*OPIOIDS*" in wa[-1] and "*CALL*" in wa[-1]
    assert "*" not in sms[-1] and "OPIOIDS" in sms[-1]
    # Two conversations, one per channel, both under the number's reference only.
    wa_session = store(app).load_session("whatsapp", TEXTER)
    sms_session = store(app).load_session("sms", TEXTER)
    assert wa_session is not None and wa_session.channel == "whatsapp"
    assert wa_session.contact == TEXTER  # the number, without Twilio's prefix
    assert sms_session is not None and sms_session.channel == "sms"


def test_a_whatsapp_callback_task_records_the_channel_and_the_whatsapp_number(
    text: Text, redis_conn: Any, app: Flask
) -> None:
    send = whatsapp(text)
    for body in ["ANXIETY", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES"]:
        send(body)
    done = send("YES")
    assert "(312) 555-0199" in done[0]  # "this number" is the WhatsApp number
    run_worker(redis_conn)
    [task] = store(app).list_tasks()
    assert task.channel == "whatsapp"
    assert task.from_number == TEXTER and task.callback_number == TEXTER


def test_stop_on_whatsapp_stops_whatsapp_only(text: Text, app: Flask) -> None:
    send = whatsapp(text)
    send("hi")
    text("hi")
    confirmation = send("STOP")
    assert len(confirmation) == 1 and "START" in confirmation[0]
    assert store(app).is_opted_out(TEXTER, "whatsapp")
    assert not store(app).is_opted_out(TEXTER)  # SMS as it was
    assert send("MENU") == []
    assert text("MENU")  # SMS still answers
    assert "subscribed" in send("START")[0]
    assert not store(app).is_opted_out(TEXTER, "whatsapp")
    assert send("DUAL")


def test_stop_by_sms_leaves_whatsapp_and_earlier_sms_opt_outs_hold(
    text: Text, app: Flask, redis_conn: Any
) -> None:
    # An opt-out recorded before WhatsApp existed: the number's reference in `optouts`.
    redis_conn.sadd("intake:optouts", store(app).number_ref(TEXTER))
    assert text("MENU") == []
    assert whatsapp(text)("MENU")


def test_a_crisis_from_a_number_opted_out_of_whatsapp_still_reaches_staff(
    text: Text, redis_conn: Any, app: Flask
) -> None:
    send = whatsapp(text)
    send("STOP")
    assert send("i took too many pills") == []
    run_worker(redis_conn)
    [task] = store(app).list_tasks()
    assert (task.kind, task.priority, task.channel) == ("crisis", "urgent", "whatsapp")


def test_each_whatsapp_message_opens_the_24_hour_window(text: Text, app: Flask) -> None:
    assert store(app).last_inbound("whatsapp", TEXTER) is None
    text("hi")  # an SMS opens no WhatsApp window
    assert store(app).last_inbound("whatsapp", TEXTER) is None
    before = datetime.now(UTC)
    whatsapp(text)("hi")
    at = store(app).last_inbound("whatsapp", TEXTER)
    assert at is not None and before - timedelta(seconds=1) <= at <= datetime.now(UTC)
    key = f"intake:last-inbound:whatsapp:{store(app).number_ref(TEXTER)}"
    assert 24 * 3600 - 5 <= store(app).redis.ttl(key) <= 24 * 3600
    raw = store(app).redis.get(key)
    assert raw is not None and raw.startswith(b"gAAAAA")  # sealed


def test_a_message_that_gets_no_answer_still_opens_the_window(text: Text, app: Flask) -> None:
    """Opted out: no answer, but the person wrote (noted on its own, outside the MULTI)."""
    send = whatsapp(text)
    send("STOP")
    store(app).note_inbound("whatsapp", TEXTER, datetime.now(UTC) - timedelta(hours=2))
    before = datetime.now(UTC)
    assert send("hello") == []
    at = store(app).last_inbound("whatsapp", TEXTER)
    assert at is not None and before - timedelta(seconds=1) <= at <= datetime.now(UTC)


def test_an_sms_cookie_copy_never_resumes_a_whatsapp_chat(text: Text, client: Any) -> None:
    text("hi")  # an SMS conversation at the menu; its copy is in Twilio's cookie jar
    assert client.get_cookie("intake_sms", path="/sms") is not None
    # A WhatsApp message with that cookie is a first message all the same: the welcome.
    replies = whatsapp(text)("hi")
    assert len(replies) == 2 and replies[0].startswith("Hi, this is")


def test_an_opt_out_spooled_during_an_outage_is_replayed_on_its_own_channel(app: Flask) -> None:
    """Spooled while Redis was away, the opt-out keeps its channel; one spooled before
    WhatsApp existed (no channel) is an SMS one."""
    from intake.spool import Record

    conversations = app.extensions["intake"].conversations
    conversations.replay(Record("r1", "opt_out", {"number": TEXTER, "channel": "whatsapp"}, 0.0))
    assert store(app).is_opted_out(TEXTER, "whatsapp")
    assert not store(app).is_opted_out(TEXTER)
    conversations.replay(Record("r2", "opt_out", {"number": TEXTER}, 0.0))
    assert store(app).is_opted_out(TEXTER)


def test_metrics_count_whatsapp_webhooks_and_tasks_as_whatsapp(text: Text, client: Any) -> None:
    from tests.web.test_metrics import samples, value

    before = samples(client)
    whatsapp(text)("i want to kill myself tonight")
    after = samples(client)

    def whatsapp_total(found: dict[Any, float], name: str) -> float:
        return sum(
            v for (n, labels), v in found.items() if n == name and ("channel", "whatsapp") in labels
        )

    assert (
        whatsapp_total(after, "intake_webhook_seconds_count")
        - whatsapp_total(before, "intake_webhook_seconds_count")
        == 1
    )
    queued = "intake_tasks_queued_total"
    labels = {"channel": "whatsapp", "priority": "urgent"}
    assert value(after, queued, **labels) - value(before, queued, **labels) == 1
