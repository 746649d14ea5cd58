"""After a whole day's worth of use, Redis holds no phone number, name or message in clear.

A text conversation ending in a callback request, a crisis text, a voice callback, the worker
running every job, and a staff member viewing and claiming a task; then every key and value in
Redis (RQ's job hashes and registries included) is searched.
"""

from __future__ import annotations

import re
import secrets
import zlib
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from intake.config import Settings
from intake.store import StaffAccount, Store
from tests.support.worker import work

from .conftest import sign, twilio_sms_params

TEXTER = "+13125550123"
CRISIS_TEXTER = "+13125550124"
CALLER = "+13125550125"
NAME = "Marisol"
CRISIS = "i want to kill myself tonight"
STAFF = "ana@center.org"
STAFF_PHONE = "+13125550126"  # for reminders about tasks she claims
WHATSAPP_TEXTER = "+13125550127"
STAFF_MESSAGE = "Rosalind here from admissions"  # what staff write to the WhatsApp person
PASSWORD = "correct horse battery"


def dump(redis: Redis) -> list[bytes]:
    """Every key name and every value in it, whatever its type; RQ's job data unpacked."""
    found: list[bytes] = []
    for key in redis.scan_iter("*"):
        found.append(key)
        kind = redis.type(key)
        if kind == b"string":
            found.append(redis.get(key) or b"")
        elif kind == b"list":
            found += redis.lrange(key, 0, -1)
        elif kind == b"set":
            found += redis.smembers(key)
        elif kind == b"zset":
            found += redis.zrange(key, 0, -1)
        elif kind == b"hash":
            for field, value in redis.hgetall(key).items():
                found += [field, value]
                try:
                    found.append(zlib.decompress(value))  # a job's `data`
                except zlib.error:
                    pass
        elif kind == b"stream":
            for _, fields in redis.xrange(key):
                found += [b for pair in fields.items() for b in pair]
        else:
            raise AssertionError(f"a key of type {kind!r} this test cannot read: {key!r}")
    return found


def personal() -> list[str]:
    """What must not appear: each number (as typed and as digits), the name, the words."""
    found = [NAME, "kill myself", "evening", STAFF, "Rosalind"]
    for number in (TEXTER, CRISIS_TEXTER, CALLER, STAFF_PHONE, WHATSAPP_TEXTER):
        found += [number, number[2:], number[-7:]]
    return found


def test_redis_holds_nothing_personal_in_clear(
    app: Flask, client: FlaskClient, settings: Settings, redis_conn: Redis
) -> None:
    def post(path: str, params: dict[str, str]) -> TestResponse:
        response = client.post(
            path, data=params, headers={"X-Twilio-Signature": sign(settings, path, params)}
        )
        assert response.status_code == 200, response.data
        return response

    # A text conversation that asks for a callback.
    for body in ["hi", "CALL", NAME, "YES", "evening", "ME", "NO", "YES", "YES"]:
        post("/sms", twilio_sms_params(body, TEXTER))
    # A crisis text.
    assert b"988" in post("/sms", twilio_sms_params(CRISIS, CRISIS_TEXTER)).data
    # A crisis on WhatsApp (its last-message time is kept for the 24-hour window).
    whatsapp = twilio_sms_params(CRISIS, "whatsapp:" + WHATSAPP_TEXTER)
    assert b"988" in post("/sms", whatsapp).data
    # A voice callback: this number, evening, for me, no voicemail, texts ok, confirm.
    call = voice(post, "CA" + secrets.token_hex(16))
    call("/voice", CallStatus="ringing")
    for digits in ["2", "1", "3", "1", "2", "1", "1"]:
        call("/voice/input", Digits=digits)
    work(redis_conn)

    store: Store = app.extensions["intake"].store
    tasks = store.list_tasks()
    assert sorted(t.channel for t in tasks) == ["sms", "sms", "voice", "whatsapp"]
    assert any(t.name == NAME for t in tasks)  # the store reads it all back

    # Staff sign in, view the queue and a task, and claim it.
    store.save_staff(
        StaffAccount(email=STAFF, password_hash=generate_password_hash(PASSWORD), phone=STAFF_PHONE)
    )
    assert (
        client.post(
            "/staff/login",
            data={
                "email": STAFF,
                "password": PASSWORD,
                "csrf_token": token(client, "/staff/login"),
            },
        ).status_code
        == 303
    )
    [callback] = [t for t in tasks if t.name == NAME]
    page = f"/staff/tasks/{callback.id}"
    assert NAME in client.get(page).get_data(as_text=True)
    claimed = client.post(
        f"{page}/claim", data={"csrf_token": token(client, page)}, follow_redirects=True
    )
    assert claimed.status_code == 200
    assert store.get_task(callback.id).status == "claimed"  # type: ignore[union-attr]
    work(redis_conn)
    # Staff write to the WhatsApp person: the text waits, staged, for its job.
    [on_whatsapp] = [t for t in tasks if t.channel == "whatsapp"]
    page = f"/staff/tasks/{on_whatsapp.id}"
    queued = client.post(
        f"{page}/message",
        data={"csrf_token": token(client, page), "body": STAFF_MESSAGE},
        follow_redirects=True,
    )
    assert "Message queued on WhatsApp" in queued.get_data(as_text=True)
    assert redis_conn.keys("intake:message:*") and redis_conn.keys("intake:last-inbound:*")

    everything = dump(redis_conn)
    assert len(everything) > 50  # sessions, tasks, audit trails, jobs, registries...
    leaks = [
        (word, value[:80]) for value in everything for word in personal() if word.encode() in value
    ]
    assert leaks == []


def voice(post: Callable[[str, dict[str, str]], TestResponse], sid: str) -> Callable[..., None]:
    def send(path: str, **extra: str) -> None:
        params = {
            "CallSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": CALLER,
            "To": "+17275550199",
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        } | extra
        post(path, params)

    return send


def token(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, page
    return match.group(1)
