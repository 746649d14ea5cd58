"""A sender that is not a phone number is never called back at it: the flow asks for a number."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from intake.config import Settings
from intake.queues import JobQueue
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE, Store
from intake.tasks import Task

from .conftest import replies, sign, twilio_sms_params
from .test_voice import Call, said

Text = Callable[..., list[str]]
NOT_NUMBERS = ["client:alice", "anonymous", "+266696687", "Restricted"]
TYPED = "+17273917001"


def tasks(app: Flask, redis_conn: Any) -> list[Task]:
    queues = [JobQueue(q, connection=redis_conn) for q in (URGENT_QUEUE, DEFAULT_QUEUE)]
    SimpleWorker(queues, connection=redis_conn, serializer=JSONSerializer).work(burst=True)
    store: Store = app.extensions["intake"].store
    return store.list_tasks()


@pytest.mark.parametrize("sender", NOT_NUMBERS)
def test_a_texter_without_a_number_is_asked_for_one(
    text: Text, app: Flask, redis_conn: Any, sender: str
) -> None:
    text("hi", sender)
    text("CALL", sender)
    [ask] = text("Sam", sender)
    assert "What number should we call? Send it with the area code" in ask
    assert "YES" not in ask  # no offer of "the number you're texting from"
    [again] = text("YES", sender)
    assert "doesn't look like a phone number" in again
    for body in ["727-391-7001", "evening", "ME", "NO", "YES"]:
        text(body, sender)
    [done] = text("YES", sender)
    assert "(727) 391-7001" in done

    [task] = tasks(app, redis_conn)
    assert task.callback_number == TYPED
    assert task.name == "Sam"


@pytest.mark.parametrize("sender", ["client:alice", "+266696687"])
def test_a_texter_without_a_number_in_crisis_gets_an_urgent_task_with_no_number_to_call(
    text: Text, app: Flask, redis_conn: Any, sender: str
) -> None:
    [answer] = text("i want to end my life", sender)
    assert "988" in answer and "911" in answer

    [task] = tasks(app, redis_conn)
    assert (task.kind, task.priority) == ("crisis", "urgent")
    assert task.callback_number is None


def test_a_text_without_any_sender_still_reaches_staff_in_a_crisis(
    client: FlaskClient, settings: Settings, app: Flask, redis_conn: Any
) -> None:
    params = twilio_sms_params("i want to end my life", "")
    response = client.post(
        "/sms", data=params, headers={"X-Twilio-Signature": sign(settings, "/sms", params)}
    )

    assert response.status_code == 200
    assert replies(response.data) == []  # nobody to send it to
    [task] = tasks(app, redis_conn)
    assert (task.kind, task.callback_number) == ("crisis", None)


def test_a_real_number_is_still_offered_as_the_one_to_call(text: Text) -> None:
    text("hi", "+13125550188")
    text("CALL", "+13125550188")
    [ask] = text("Sam", "+13125550188")
    assert "Reply YES to use the number you're texting from" in ask


@pytest.mark.parametrize("caller", ["client:alice", "Anonymous", "+266696687", ""])
def test_a_caller_without_a_number_is_asked_to_key_one_in(
    client: FlaskClient, settings: Settings, app: Flask, redis_conn: Any, caller: str
) -> None:
    call = Call(client, settings, caller=caller)
    call.start()

    asked = said(call.press("2"))

    assert "Please enter the phone number we should call" in asked
    assert "the number you are calling from" not in asked
    # evening, for me, no voicemail, texts ok, confirm
    for digits in ["7273917001#", "3", "1", "2", "1"]:
        call.press(digits)
    assert call.press("1")[-1].tag == "Hangup"
    [task] = tasks(app, redis_conn)
    assert task.callback_number == TYPED
    assert task.from_number is None


@pytest.mark.parametrize("caller", ["client:alice", "+266696687"])
def test_a_caller_without_a_number_in_crisis_gets_an_urgent_task_with_no_number_to_call(
    client: FlaskClient, settings: Settings, app: Flask, redis_conn: Any, caller: str
) -> None:
    call = Call(client, settings, caller=caller)
    call.start()

    assert "9 8 8" in said(call.say("I want to kill myself"))

    [task] = tasks(app, redis_conn)
    assert (task.kind, task.priority, task.callback_number) == ("crisis", "urgent", None)
