"""The /staff dashboard over the test client and a real Redis: sign-in, queue, task lifecycle."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import logging
import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from intake import create_app
from intake.config import Settings
from intake.store import StaffAccount, Store
from intake.tasks import CRISIS_CATEGORIES, Task
from intake.web.staff import present
from intake.web.staff.admin import EXPORT_COLUMNS
from tests.support import factories

from .conftest import sign, twilio_sms_params

ANA = "ana@center.org"
BO = "bo@center.org"
PASSWORD = "correct horse battery"
NAME = "Sam Rivera"
NUMBER = "+13125550142"
NY = ZoneInfo("America/New_York")
CRISIS_PHRASES = Path(__file__).resolve().parents[2] / "flows" / "safety" / "crisis.yaml"


def make_task(task_id: str = "t1", **overrides: Any) -> Task:
    created = datetime.now(UTC) - timedelta(minutes=3)
    defaults = dict(
        created_at=created,
        due_at=created,
        from_number=NUMBER,
        callback_number=NUMBER,
        name=NAME,
        best_time="after 5pm",
        topics=["opioids"],
    )
    return factories.make_task(task_id, **{**defaults, **overrides})


def store_of(app: Flask) -> Store:
    store: Store = app.extensions["intake"].store
    return store


def add_staff(app: Flask, email: str, role: str = "admissions", password: str = PASSWORD) -> None:
    account = StaffAccount(email=email, password_hash=generate_password_hash(password), role=role)
    store_of(app).save_staff(account)


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def text(response: TestResponse) -> str:
    """The page as a person reads it: markup removed, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def poll(client: FlaskClient) -> dict[str, Any]:
    """What the queue page's script fetches every few seconds."""
    response = client.get("/staff/queue.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json  # type: ignore[assignment]
    return data


class Auth:
    """Signs a test client in and out, and posts the dashboard's forms with their CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str = ANA, password: str = PASSWORD, **kwargs: Any) -> TestResponse:
        token = csrf_token(self.client, "/staff/login")
        data = {"email": email, "password": password, "csrf_token": token}
        return self.client.post("/staff/login", data=data, **kwargs)

    def logout(self) -> TestResponse:
        token = csrf_token(self.client, "/staff/")
        return self.client.post("/staff/logout", data={"csrf_token": token})

    def act(self, task_id: str, action: str, **fields: str) -> TestResponse:
        token = csrf_token(self.client, f"/staff/tasks/{task_id}")
        return self.client.post(
            f"/staff/tasks/{task_id}/{action}",
            data={"csrf_token": token, **fields},
            follow_redirects=True,
        )


@pytest.fixture
def staff_app(app: Flask) -> Flask:
    add_staff(app, ANA)
    add_staff(app, BO, role="admin")
    return app


@pytest.fixture
def auth(staff_app: Flask, client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def ana(auth: Auth) -> Auth:
    """Ana, signed in."""
    assert auth.login().status_code == 303
    return auth


@pytest.fixture
def bo(staff_app: Flask) -> Auth:
    """Bo, signed in on a client of his own."""
    other = Auth(staff_app.test_client())
    assert other.login(BO).status_code == 303
    return other


# --- signing in ------------------------------------------------------------------


def test_it_sends_signed_out_visitors_to_sign_in(staff_app: Flask, client: FlaskClient) -> None:
    response = client.get("/staff/")
    assert response.status_code == 303
    assert response.location == "/staff/login?next=/staff/"
    assert client.get("/staff/tasks/t1").location == "/staff/login?next=/staff/tasks/t1"
    poll = client.get("/staff/queue.json")
    assert poll.status_code == 401
    assert poll.json == {"error": "signed out"}


def test_it_signs_in_and_out(auth: Auth) -> None:
    response = auth.login()
    assert response.status_code == 303
    assert response.location == "/staff/"
    page = auth.client.get("/staff/")
    assert page.status_code == 200
    assert ANA in text(page)
    response = auth.logout()
    assert response.location == "/staff/login"
    assert auth.client.get("/staff/").status_code == 303


def test_it_accepts_the_email_in_any_case(auth: Auth) -> None:
    assert auth.login("  Ana@Center.ORG ").status_code == 303


def test_it_returns_to_the_page_asked_for_but_only_on_staff_pages(auth: Auth) -> None:
    token = csrf_token(auth.client, "/staff/login")
    data = {"email": ANA, "password": PASSWORD, "csrf_token": token}
    response = auth.client.post("/staff/login?next=/staff/tasks/t1", data=data)
    assert response.location == "/staff/tasks/t1"
    auth.logout()
    for target in ("https://evil.example/", "//evil.example/staff/", "/staff/..//evil"):
        token = csrf_token(auth.client, "/staff/login")
        data["csrf_token"] = token
        response = auth.client.post("/staff/login", query_string={"next": target}, data=data)
        assert response.location == "/staff/", target
        auth.logout()


def test_it_refuses_a_wrong_password_and_an_unknown_email_alike(auth: Auth) -> None:
    wrong = auth.login(password="not the password")
    unknown = auth.login("nobody@center.org")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "Wrong email or password." in text(response)
    assert auth.client.get("/staff/").status_code == 303


def throttled_app(settings: Settings, free: int = 2, cap: int = 8, proxies: int = 1) -> Flask:
    app = create_app(
        dataclasses.replace(
            settings,
            login_free_failures=free,
            login_max_delay_seconds=cap,
            trusted_proxies=proxies,
        )
    )
    add_staff(app, ANA)
    return app


def from_address(address: str) -> dict[str, Any]:
    """Headers of a request that came through the load balancer from `address`."""
    return {"headers": {"X-Forwarded-For": address}}


def time_passes(redis_conn: Redis) -> None:
    """As if every sign-in wait were over (the failures are still counted)."""
    for key in redis_conn.scan_iter("intake:login-throttle:*"):
        redis_conn.hset(key, "until", 0)


ATTACKER = "203.0.113.7"
ANA_AT_HOME = "198.51.100.4"


def test_it_slows_failures_down_per_account_and_client_with_growing_delays(
    settings: Settings, redis_conn: Redis
) -> None:
    attacker = Auth(throttled_app(settings).test_client())
    for _ in range(2):  # the free failures
        response = attacker.login(password="guess", **from_address(ATTACKER))
        assert (response.status_code, text(response).count("Try again")) == (200, 0)
    waits = []
    for _ in range(5):
        response = attacker.login(password="guess", **from_address(ATTACKER))
        assert response.status_code == 200
        assert "Wrong email or password." in text(response)
        waits.append(int(re.findall(r"Try again in (\d+) seconds", text(response))[0]))
        waiting = attacker.login(**from_address(ATTACKER))  # even the right password waits
        assert waiting.status_code == 429
        assert int(waiting.headers["Retry-After"]) <= waits[-1]
        assert "Too many failed sign-ins for this account from here." in text(waiting)
        time_passes(redis_conn)
    assert waits == [2, 4, 8, 8, 8]  # doubling, up to LOGIN_MAX_DELAY_SECONDS
    assert attacker.login(**from_address(ATTACKER)).status_code == 303  # after the wait


def test_nobody_can_lock_the_real_user_out(settings: Settings, redis_conn: Redis) -> None:
    app = throttled_app(settings)
    attacker = Auth(app.test_client())
    for _ in range(20):
        attacker.login(password="guess", **from_address(ATTACKER))
    assert attacker.login(**from_address(ATTACKER)).status_code == 429
    ana = Auth(app.test_client())
    assert ana.login(**from_address(ANA_AT_HOME)).status_code == 303  # another client: no wait
    # Nor does anyone else wait for it: another account from the attacker's own address.
    add_staff(app, BO)
    assert Auth(app.test_client()).login(BO, **from_address(ATTACKER)).status_code == 303
    keys = b" ".join(redis_conn.scan_iter("intake:login-*"))
    assert keys and ANA.encode() not in keys and ATTACKER.encode() not in keys


def test_a_browser_that_signed_in_before_is_a_client_of_its_own(
    settings: Settings, redis_conn: Redis
) -> None:
    # Everyone has one address, as behind a load balancer without TRUSTED_PROXIES, or one office.
    app = throttled_app(settings, proxies=0)
    ana = Auth(app.test_client())
    first = ana.login()
    assert first.status_code == 303
    [device] = [c for c in first.headers.getlist("Set-Cookie") if c.startswith("staff_device=")]
    flags = [part.strip() for part in device.split(";")]
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/staff/login"} <= set(flags)
    assert "ana" not in flags[0] and "center" not in flags[0]
    ana.logout()
    attacker = Auth(app.test_client())
    for _ in range(20):
        attacker.login(password="guess")
    assert attacker.login().status_code == 429
    assert ana.login().status_code == 303  # her own browser: not slowed by the attacker
    assert Auth(app.test_client()).login().status_code == 429  # a new browser shares the address
    attacker.client.set_cookie(
        "staff_device", flags[0].partition("=")[2] + "x", path="/staff/login"
    )
    assert attacker.login().status_code == 429  # a forged or altered device cookie is no help
    attacker.client.set_cookie("staff_device", "n.1.é", path="/staff/login")
    assert attacker.login().status_code == 429


def test_it_answers_unknown_emails_as_it_answers_known_ones(
    settings: Settings, redis_conn: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake.web.staff import auth as staff_auth

    hashed: list[str] = []
    real_check = staff_auth.check_password_hash

    def counting(stored: str, password: str) -> bool:
        hashed.append(password)
        return real_check(stored, password)

    monkeypatch.setattr(staff_auth, "check_password_hash", counting)
    app = throttled_app(settings)

    def attempts(email: str) -> tuple[list[tuple[int, str]], int]:
        hashed.clear()
        client = Auth(app.test_client())
        seen = []
        for _ in range(5):
            response = client.login(email, "guess", **from_address(ATTACKER))
            seen.append((response.status_code, text(response).replace(email, "EMAIL")))
        return seen, len(hashed)

    known = attempts(ANA)
    unknown = attempts("nobody@center.org")
    assert known == unknown
    assert [status for status, _ in known[0]] == [200, 200, 200, 429, 429]
    assert known[1] == 3  # a password is checked only when a try is allowed, for both alike


def test_it_counts_sign_ins_per_client_behind_a_trusted_proxy(
    settings: Settings, redis_conn: Redis
) -> None:
    app = throttled_app(settings, free=100)  # only the flood guard: 30 a minute
    behind = Auth(app.test_client())
    for _ in range(30):
        assert behind.login(password="guess", **from_address(ATTACKER)).status_code == 200
    blocked = behind.login(**from_address(ATTACKER))
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in text(blocked)
    # another person behind the same load balancer is not refused with them
    assert behind.login(**from_address(ANA_AT_HOME)).status_code == 303
    assert all(k.startswith(b"intake:ratelimit:") for k in redis_conn.scan_iter("*LIMIT*"))


def test_a_forged_x_forwarded_for_changes_nothing_without_trusted_proxies(
    settings: Settings, redis_conn: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    attacker = Auth(throttled_app(settings, proxies=0).test_client())
    for n in range(3):  # a new forged address each time: still one client
        attacker.login(password="guess", **from_address(f"192.0.2.{n}"))
    assert attacker.login(**from_address("192.0.2.99")).status_code == 429
    warnings = [r for r in caplog.records if "TRUSTED_PROXIES is 0" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"  # once, not every request


def test_it_does_not_warn_about_proxies_when_none_is_in_front(
    settings: Settings, redis_conn: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    direct = Auth(throttled_app(settings, proxies=0).test_client())
    assert direct.login().status_code == 303
    assert "TRUSTED_PROXIES" not in caplog.text


def test_it_refuses_forms_without_a_csrf_token(ana: Auth, staff_app: Flask) -> None:
    store_of(staff_app).create_task(make_task())
    response = ana.client.post("/staff/tasks/t1/claim")
    assert response.status_code == 400
    assert "CSRF token is missing" in text(response)
    assert store_of(staff_app).get_task("t1").status == "new"  # type: ignore[union-attr]
    signed_out = Auth(staff_app.test_client())
    response = signed_out.client.post("/staff/login", data={"email": ANA, "password": PASSWORD})
    assert response.status_code == 400
    assert ana.client.post("/staff/logout").status_code == 400


def test_it_leaves_the_twilio_webhooks_to_their_signature(
    staff_app: Flask, client: FlaskClient, settings: Settings
) -> None:
    params = twilio_sms_params("hello", "+13125550199")
    signed = client.post(
        "/sms", data=params, headers={"X-Twilio-Signature": sign(settings, "/sms", params)}
    )
    assert signed.status_code == 200
    assert client.post("/sms", data=params).status_code == 403


def test_the_sign_in_limit_runs_on_staff_pages_only(
    staff_app: Flask, client: FlaskClient, settings: Settings, redis_conn: Redis
) -> None:
    """Flask-Limiter's request hooks belong to /staff: a webhook never pays for them."""
    hooks = [
        f
        for table in (staff_app.before_request_funcs, staff_app.after_request_funcs)
        for f in table.get(None, [])
    ]
    assert hooks and not any("flask_limiter" in getattr(f, "__module__", "") for f in hooks)
    staff_hooks = staff_app.before_request_funcs.get("staff", [])
    assert any("flask_limiter" in getattr(f, "__module__", "") for f in staff_hooks)
    for n in range(3):
        params = twilio_sms_params("hello", f"+1312555019{n}")
        signature = sign(settings, "/sms", params)
        assert (
            client.post("/sms", data=params, headers={"X-Twilio-Signature": signature}).status_code
            == 200
        )
    assert not list(redis_conn.scan_iter("intake:ratelimit:*"))  # nothing counted for webhooks


def test_it_sets_secure_http_only_same_site_session_cookies(auth: Auth) -> None:
    response = auth.login()
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    flags = [part.strip() for part in cookie.split(";")]
    assert "Secure" in flags
    assert "HttpOnly" in flags
    assert "SameSite=Lax" in flags
    assert "Path=/staff" in flags  # never sent to the webhooks
    assert any(f.startswith("Expires=") for f in flags)
    assert not any("remember" in c for c in response.headers.getlist("Set-Cookie"))


def test_it_signs_out_after_the_idle_time_and_polling_does_not_count(
    ana: Auth, staff_app: Flask
) -> None:
    assert staff_app.permanent_session_lifetime == timedelta(minutes=30)
    assert staff_app.config["SESSION_REFRESH_EACH_REQUEST"] is True
    with ana.client.session_transaction("/staff/") as session:
        seen = session["seen"]
    assert ana.client.get("/staff/queue.json").status_code == 200
    with ana.client.session_transaction("/staff/") as session:
        assert session["seen"] == seen
        session["seen"] = time.time() - 31 * 60
    response = ana.client.get("/staff/", follow_redirects=True)
    assert response.request.path == "/staff/login"
    assert "signed out after 30 minutes without activity" in text(response)
    assert ana.client.get("/staff/queue.json").status_code == 401


def test_it_ends_sessions_when_the_password_changes(ana: Auth, staff_app: Flask) -> None:
    assert ana.client.get("/staff/").status_code == 200
    add_staff(staff_app, ANA, password="a brand new password")
    assert ana.client.get("/staff/").status_code == 303


def test_it_sends_no_store_and_security_headers(ana: Auth) -> None:
    for path in ("/staff/", "/staff/queue.json", "/staff/login"):
        response = ana.client.get(path)
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


# --- the queue --------------------------------------------------------------------


def test_it_lists_the_queue_urgent_first_then_due_then_oldest(ana: Auth, staff_app: Flask) -> None:
    store = store_of(staff_app)
    t0 = datetime.now(UTC) - timedelta(hours=2)
    store.create_task(make_task("late", created_at=t0, due_at=t0 + timedelta(hours=5)))
    store.create_task(make_task("old", created_at=t0, due_at=t0))
    store.create_task(make_task("young", created_at=t0 + timedelta(minutes=5), due_at=t0))
    store.create_task(
        make_task("crisis", kind="crisis", priority="urgent", created_at=t0 + timedelta(hours=1))
    )
    store.create_task(make_task("finished", created_at=t0))
    ana.act("finished", "claim")
    ana.act("finished", "done")

    data = poll(ana.client)
    assert [r["id"] for r in data["open"]] == ["crisis", "old", "young", "late"]
    assert [r["id"] for r in data["done"]] == ["finished"]
    assert data["counts"] == {
        "new": 4,
        "claimed": 0,
        "rescheduled": 0,
        "reopened": 0,
        "done": 1,
        "urgent_open": 1,
    }
    crisis = data["open"][0]
    assert crisis["priority"] == "urgent"
    assert crisis["age"] == "1 h"
    assert data["task_url"] == "/staff/tasks/TASK_ID"
    # The poll carries first names and masked numbers only: no full name, no number.
    assert NAME not in str(data) and NUMBER not in str(data)

    page = ana.client.get("/staff/").get_data(as_text=True)
    assert re.search(r'<tr class="urgent[^"]*" data-id="crisis"', page)
    assert (
        page.index('data-id="crisis"') < page.index('data-id="old"') < page.index('data-id="late"')
    )
    assert 'src="/staff/static/queue.js"' in page


def test_each_row_shows_first_name_masked_number_and_best_time(ana: Auth, staff_app: Flask) -> None:
    store = store_of(staff_app)
    store.create_task(make_task("named", best_time_window="evening"))
    start = datetime(2026, 11, 24, 18, tzinfo=NY)
    store.create_task(
        make_task(
            "asked",
            name="Maximiliana-Josefina Ortega",
            callback_number="+13125550777",
            best_time_start=start,
            best_time_end=start + timedelta(hours=3),
        )
    )
    store.create_task(make_task("nameless", name=None, callback_number=None, best_time_window=None))
    rows = {r["id"]: r for r in poll(ana.client)["open"]}
    assert (rows["named"]["who"], rows["named"]["number"], rows["named"]["best"]) == (
        "Sam",
        "•••0142",
        "evening",
    )
    assert rows["asked"]["who"] == "M.O."  # a long first name: initials
    assert rows["asked"]["number"] == "•••0777"
    assert rows["asked"]["best"].endswith("18:00")
    assert (rows["nameless"]["who"], rows["nameless"]["number"]) == ("", "•••0142")  # From
    page = text(ana.client.get("/staff/"))
    assert "Sam •••0142 evening" in page
    assert "M.O. •••0777" in page
    assert NAME not in page and "Ortega" not in page and "+13125550142" not in page


def test_waiting_time_is_coloured_against_its_claim_target(ana: Auth, staff_app: Flask) -> None:
    store = store_of(staff_app)
    now = datetime.now(UTC)
    urgent = dict(kind="crisis", priority="urgent")  # URGENT_CLAIM_MINUTES: 5 by default
    store.create_task(make_task("u-fresh", created_at=now - timedelta(minutes=1), **urgent))
    store.create_task(make_task("u-soon", created_at=now - timedelta(minutes=4), **urgent))
    store.create_task(make_task("u-late", created_at=now - timedelta(minutes=6), **urgent))
    store.create_task(make_task("n-fresh", created_at=now))  # 60 business minutes
    store.create_task(make_task("n-late", created_at=now - timedelta(days=10)))
    store.create_task(make_task("u-held", created_at=now - timedelta(minutes=30), **urgent))
    ana.act("u-held", "claim")
    rows = {r["id"]: r for r in poll(ana.client)["open"]}
    assert {i: r["wait"] for i, r in rows.items()} == {
        "u-fresh": "ok",
        "u-soon": "soon",
        "u-late": "late",
        "n-fresh": "ok",
        "n-late": "late",
        "u-held": "held",
    }
    assert rows["u-late"]["target"] == "5 min"
    assert rows["u-late"]["age"] == "6 min"
    target = datetime.fromisoformat(rows["n-fresh"]["target_at"])
    assert target >= now + timedelta(minutes=59)  # business time: never sooner than an hour
    page = ana.client.get("/staff/").get_data(as_text=True)
    assert re.search(r'<time class="wait late" datetime="[^"]+" data-target="[^"]+"', page)


def test_a_task_is_overdue_once_its_window_opens_and_nobody_has_tried(
    ana: Auth, staff_app: Flask
) -> None:
    store = store_of(staff_app)
    now = datetime.now(UTC)
    evening = dict(best_time_window="evening")
    store.create_task(make_task("opened", due_at=now - timedelta(minutes=1), **evening))
    store.create_task(make_task("tried", due_at=now - timedelta(minutes=1), **evening))
    store.create_task(make_task("later", due_at=now + timedelta(hours=3), **evening))
    asap = dict(best_time_window="now", kind="crisis", priority="urgent")
    store.create_task(make_task("asap-new", created_at=now, due_at=now, **asap))
    store.create_task(
        make_task("asap-old", created_at=now - timedelta(minutes=9), due_at=now, **asap)
    )
    ana.act("tried", "claim")
    ana.act("tried", "attempt", outcome="no_answer")
    rows = {r["id"]: r for r in poll(ana.client)["open"]}
    assert {i: r["overdue"] for i, r in rows.items()} == {
        "opened": True,
        "tried": False,
        "later": False,
        "asap-new": False,  # as soon as possible: overdue once its claim target passes
        "asap-old": True,
    }
    page = ana.client.get("/staff/").get_data(as_text=True)
    assert page.count('<span class="badge overdue"') == 2
    later = datetime.fromisoformat(rows["later"]["opens_at"])
    assert abs(later - (now + timedelta(hours=3))) < timedelta(seconds=1)  # queue.js marks it then


def test_it_flags_an_escalated_task(ana: Auth, staff_app: Flask) -> None:
    store = store_of(staff_app)
    store.create_task(make_task("t1", kind="crisis", priority="urgent"))
    store.create_task(make_task("t2"))
    store.note_escalation("t1", "unclaimed: on-call staff texted again (2)")
    rows = {r["id"]: r for r in poll(ana.client)["open"]}
    assert (rows["t1"]["escalated"], rows["t2"]["escalated"]) == (True, False)
    assert text(ana.client.get("/staff/")).count("Escalated") == 1
    assert [e.action for e in store.audit("t1")] == ["created", "escalated"]
    assert "Escalated: it was not claimed in time" in text(ana.client.get("/staff/tasks/t1"))


def test_tasks_from_the_same_number_are_linked_both_ways(ana: Auth, staff_app: Flask) -> None:
    store = store_of(staff_app)
    now = datetime.now(UTC)
    store.create_task(
        make_task("crisis1", kind="crisis", priority="urgent", crisis_category="overdose")
    )
    store.create_task(make_task("callback1", created_at=now - timedelta(days=2)))
    store.create_task(
        make_task("other1", callback_number="+13125550999", from_number="+13125550999")
    )
    store.create_task(make_task("stale1", created_at=now - timedelta(days=30)))
    hidden = dict(from_number="+266696687", callback_number=None)  # a hidden caller ID
    store.create_task(make_task("hidden1", **hidden))
    store.create_task(make_task("hidden2", **hidden))
    rows = {r["id"]: r for r in poll(ana.client)["open"]}
    linked = {i: [t["id"] for t in r["related"]] for i, r in rows.items()}
    assert linked == {
        "crisis1": ["callback1"],
        "callback1": ["crisis1"],
        "other1": [],
        "stale1": [],  # a month apart: not recent
        "hidden1": [],
        "hidden2": [],
    }
    page = ana.client.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/tasks/callback1" title="Same person (callback)">↔ callback1' in page
    assert 'href="/staff/tasks/crisis1" title="Same person (crisis)">↔ crisis1' in page
    detail = text(ana.client.get("/staff/tasks/callback1"))
    assert "Same person (same number, within 7 days): crisis1 (crisis, new)" in detail


@pytest.mark.parametrize(
    ("category", "label"),
    [
        ("overdose", "Overdose / medical emergency"),
        ("suicide", "Suicidal thoughts"),
        ("self_harm", "Self-harm"),
    ],
)
def test_a_crisis_row_shows_its_category(
    ana: Auth, staff_app: Flask, category: str, label: str
) -> None:
    store_of(staff_app).create_task(
        make_task("c1", kind="crisis", priority="urgent", crisis_category=category)
    )
    assert poll(ana.client)["open"][0]["crisis"] == label
    page = ana.client.get("/staff/").get_data(as_text=True)
    assert f'<span class="badge crisis">{label}</span>' in page


def test_it_flags_a_task_whose_notification_failed(ana: Auth, staff_app: Flask) -> None:
    store = store_of(staff_app)
    store.create_task(make_task())
    store.flag_delivery_failed("t1", "sms")
    assert poll(ana.client)["open"][0]["delivery_failed"] is True
    assert "Notification failed" in text(ana.client.get("/staff/"))
    assert "Staff notification failed for good" in text(ana.client.get("/staff/tasks/t1"))


def test_it_flags_the_kind_of_crisis_on_the_queue(ana: Auth, staff_app: Flask) -> None:
    store = store_of(staff_app)
    store.create_task(make_task("od", kind="crisis", priority="urgent", crisis_category="overdose"))
    store.create_task(make_task("cb"))
    rows = {r["id"]: r for r in poll(ana.client)["open"]}
    assert rows["od"]["crisis"] == "Overdose / medical emergency"
    assert rows["cb"]["crisis"] == ""
    page = ana.client.get("/staff/").get_data(as_text=True)
    assert '<span class="badge crisis">Overdose / medical emergency</span>' in page
    assert page.count('class="badge crisis"') == 1


def test_it_serves_the_queue_script_to_anyone(client: FlaskClient, staff_app: Flask) -> None:
    response = client.get("/staff/static/queue.js")
    assert response.status_code == 200
    assert "textContent" in response.get_data(as_text=True)
    assert "innerHTML" not in response.get_data(as_text=True).replace("never innerHTML", "")


# --- one task -----------------------------------------------------------------------


def test_it_shows_what_staff_need_to_call_back(ana: Auth, staff_app: Flask) -> None:
    store_of(staff_app).create_task(make_task(topics=["opioids", "anxiety"], language="es"))
    response = ana.client.get("/staff/tasks/t1")
    page, words = response.get_data(as_text=True), text(response)
    assert f'href="tel:{NUMBER}"' in page
    assert "Call +1 312-555-0142" in words
    assert NAME in words
    assert "after 5pm (evening)" in words
    assert "Spanish" in words
    assert "Themselves" in words
    assert "opioids, anxiety" in words
    assert "Not claimed." in words
    assert "Claim this task" in words


def test_it_shows_the_crisis_the_time_asked_for_and_whom_the_call_is_for(
    ana: Auth, staff_app: Flask
) -> None:
    store_of(staff_app).create_task(
        make_task(**factories.crisis_for_brother("suicide", date(2026, 11, 24), NY))
    )
    response = ana.client.get("/staff/tasks/t1")
    page, words = response.get_data(as_text=True), text(response)
    assert '<span class="badge crisis" id="crisis-category">Suicidal thoughts</span>' in page
    assert "Best time tonight after 6 (evening) — Tue 24 Nov, 18:00–21:00" in words
    assert "For whom Someone else (brother)" in words


def test_it_shows_no_crisis_or_time_asked_for_when_there_is_none(
    ana: Auth, staff_app: Flask
) -> None:
    store_of(staff_app).create_task(make_task(for_whom="other"))
    response = ana.client.get("/staff/tasks/t1")
    page, words = response.get_data(as_text=True), text(response)
    assert "badge crisis" not in page
    assert "Best time after 5pm (evening) Due" in words
    assert "For whom Someone else (family or friend)" in words


@pytest.mark.parametrize(
    ("voicemail_ok", "text_ok", "labels"),
    [
        (False, False, ["Do NOT leave a voicemail", "Do NOT text"]),
        (True, True, ["Voicemail OK", "Texts OK"]),
        (None, None, ["Voicemail: not asked — do not assume", "Texts: not asked — do not assume"]),
    ],
)
def test_it_shows_consent_prominently(
    ana: Auth, staff_app: Flask, voicemail_ok: bool | None, text_ok: bool | None, labels: list[str]
) -> None:
    store_of(staff_app).create_task(make_task(voicemail_ok=voicemail_ok, text_ok=text_ok))
    page = ana.client.get("/staff/tasks/t1").get_data(as_text=True)
    for label in labels:
        assert re.search(rf'<p class="consent-item \w+" id="consent-\w+">{label}</p>', page), label


def test_it_escapes_everything_the_person_typed(ana: Auth, staff_app: Flask) -> None:
    attack = "<script>window.pwned=1</script>"
    store_of(staff_app).create_task(
        make_task(
            name=attack,
            best_time='<img src=x onerror="alert(1)">',
            for_whom="other",
            for_whom_detail="<b>brother</b>",
        )
    )
    page = ana.client.get("/staff/tasks/t1").get_data(as_text=True)
    assert attack not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "Someone else (&lt;b&gt;brother&lt;/b&gt;)" in page


def test_it_walks_a_task_through_its_lifecycle_with_an_audit_entry_each_step(
    ana: Auth, staff_app: Flask
) -> None:
    store = store_of(staff_app)
    store.create_task(make_task(voicemail_ok=True))
    assert "Claimed: it is yours now." in text(ana.act("t1", "claim"))
    page = text(ana.act("t1", "attempt", outcome="no_answer", note="rang 10 times"))
    assert "Attempt recorded." in page
    assert "Claimed by you." in page
    ana.act("t1", "attempt", outcome="left_voicemail")
    tomorrow = (datetime.now(NY) + timedelta(days=1)).replace(hour=10, minute=30, second=0)
    page = text(ana.act("t1", "reschedule", when=f"{tomorrow:%Y-%m-%dT%H:%M}"))
    assert "Rescheduled." in page
    task = store.get_task("t1")
    assert task is not None and task.status == "rescheduled"
    assert task.due_at == tomorrow.replace(microsecond=0).astimezone(UTC)
    assert "Rescheduled to" in page and "10:30" in page
    ana.act("t1", "claim")
    ana.act("t1", "attempt", outcome="reached")
    assert "Marked done." in text(ana.act("t1", "done", note="booked an intake"))
    assert "Reopened." in text(ana.act("t1", "reopen"))

    changes = [e for e in store.audit("t1") if e.action != "viewed"]  # each page view is one too
    assert [(e.by, e.action, e.detail) for e in changes] == [
        ("system", "created", "normal callback via sms"),
        (ANA, "claimed", ""),
        (ANA, "attempt", "no_answer: rang 10 times"),
        (ANA, "attempt", "left_voicemail"),
        (ANA, "rescheduled", f"to {task.due_at:%Y-%m-%dT%H:%M:%SZ}"),
        (ANA, "claimed", ""),
        (ANA, "attempt", "reached"),
        (ANA, "done", "booked an intake"),
        (ANA, "reopened", ""),
    ]
    trail = text(ana.client.get("/staff/tasks/t1"))
    assert "Audit trail" in trail
    assert f"{ANA} attempt no_answer: rang 10 times" in trail


def test_it_shows_others_who_claimed_a_task(ana: Auth, bo: Auth, staff_app: Flask) -> None:
    store_of(staff_app).create_task(make_task())
    ana.act("t1", "claim")
    page = text(bo.client.get("/staff/tasks/t1"))
    assert f"Claimed by {ANA} ." in page
    assert f"Only {ANA} can record attempts" in page
    assert "Claim this task" not in page
    assert poll(bo.client)["open"][0]["owner"] == ANA
    refused = text(bo.act("t1", "done"))
    assert f"Not done: task t1 is claimed by {ANA}, not you" in refused
    refused = text(bo.act("t1", "claim"))
    assert f"Not done: task t1 is already claimed by {ANA}" in refused


def test_it_refuses_invalid_transitions_with_a_clear_message(ana: Auth, staff_app: Flask) -> None:
    store_of(staff_app).create_task(make_task())
    assert "Not done: task t1 is new: claim it before you done" in text(ana.act("t1", "done"))
    assert "Not done: task t1 is new, not done: nothing to reopen" in text(ana.act("t1", "reopen"))
    assert [e.action for e in store_of(staff_app).audit("t1") if e.action != "viewed"] == [
        "created"
    ]


def test_it_refuses_a_voicemail_the_person_did_not_allow(ana: Auth, staff_app: Flask) -> None:
    store_of(staff_app).create_task(make_task(voicemail_ok=None))
    page = ana.act("t1", "claim").get_data(as_text=True)
    assert '<option value="left_voicemail" disabled>Left a voicemail (not allowed)</option>' in page
    refused = text(ana.act("t1", "attempt", outcome="left_voicemail"))
    assert "the person did not allow a voicemail" in refused
    assert store_of(staff_app).get_task("t1").attempts == []  # type: ignore[union-attr]


def test_it_refuses_bad_form_input(ana: Auth, staff_app: Flask) -> None:
    store_of(staff_app).create_task(make_task())
    ana.act("t1", "claim")
    assert "Outcome: Not a valid choice." in text(ana.act("t1", "attempt", outcome="sang"))
    past = datetime.now(NY) - timedelta(hours=1)
    page = text(ana.act("t1", "reschedule", when=f"{past:%Y-%m-%dT%H:%M}"))
    assert "Pick a time in the future." in page
    assert "New time: Not a valid datetime value." in text(ana.act("t1", "reschedule", when="soon"))
    assert store_of(staff_app).get_task("t1").status == "claimed"  # type: ignore[union-attr]


def test_it_answers_404_for_an_unknown_task_or_action(ana: Auth, staff_app: Flask) -> None:
    store_of(staff_app).create_task(make_task())
    assert ana.client.get("/staff/tasks/nope").status_code == 404
    token = csrf_token(ana.client, "/staff/")
    assert ana.client.post("/staff/tasks/nope/claim", data={"csrf_token": token}).status_code == 404
    assert ana.client.post("/staff/tasks/t1/explode", data={"csrf_token": token}).status_code == 404


def test_it_keeps_personal_details_out_of_the_logs(
    auth: Auth, staff_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store_of(staff_app).create_task(make_task(voicemail_ok=True))
    auth.login(password="wrong password")
    auth.login()
    auth.client.get("/staff/")
    auth.client.get("/staff/queue.json")
    auth.client.get("/staff/tasks/t1")
    auth.act("t1", "claim")
    auth.act("t1", "attempt", outcome="left_voicemail", note="left a message")
    auth.act("t1", "done")
    assert "task t1: done by staff" in caplog.text
    for secret in (NAME, NUMBER, NUMBER[-10:], "after 5pm", PASSWORD, "wrong password"):
        assert secret not in caplog.text, secret


# --- presentation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(20, "just now"), (180, "3 min"), (3600, "1 h"), (7500, "2 h 5 min"), (3 * 86400, "3 d")],
)
def test_it_says_ages_briefly(seconds: int, expected: str) -> None:
    now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert present.age(now - timedelta(seconds=seconds), now) == expected


def test_it_says_times_in_the_business_time_zone() -> None:
    now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 09:00 in New York
    assert present.local_time(now, now, NY) == "today 09:00"
    assert present.local_time(now + timedelta(hours=20), now, NY) == "tomorrow 05:00"
    assert present.local_time(now - timedelta(days=1), now, NY) == "yesterday 09:00"
    assert present.local_time(now + timedelta(days=3), now, NY) == "Sat 28 Nov 09:00"
    assert present.full_time(now, NY) == "Wed 25 Nov 2026, 09:00 EST"


def test_it_says_the_time_asked_for_in_the_business_time_zone() -> None:
    six_pm = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 18:00 in New York, a Tuesday
    assert present.window(six_pm, six_pm + timedelta(hours=3), NY) == "Tue 24 Nov, 18:00–21:00"
    assert present.window(six_pm, six_pm + timedelta(hours=6), NY) == "Tue 24 Nov, 18:00–24:00"
    assert (
        present.window(six_pm, six_pm + timedelta(hours=15), NY)
        == "Tue 24 Nov, 18:00 – Wed 25 Nov, 09:00"
    )
    assert present.window(six_pm, None, NY) == "Tue 24 Nov, from 18:00"
    assert present.window(None, six_pm, NY) == "Tue 24 Nov, until 18:00"
    assert present.window(None, None, NY) == ""


def test_it_has_words_for_every_crisis_category() -> None:
    crisis = yaml.safe_load(CRISIS_PHRASES.read_text())
    assert set(present.CRISIS) == set(CRISIS_CATEGORIES) == set(crisis["categories"])


def test_it_says_how_long_ago_a_task_came_in(ana: Auth, staff_app: Flask) -> None:
    store_of(staff_app).create_task(make_task())  # three minutes old
    store_of(staff_app).create_task(make_task("t2", created_at=datetime.now(UTC)))
    assert "(3 min ago)" in text(ana.client.get("/staff/tasks/t1"))
    page = text(ana.client.get("/staff/tasks/t2"))
    assert "(just now)" in page and "just now ago" not in page


# --- the admin role, and who saw what ------------------------------------------------


def test_it_gives_others_a_plain_403_on_admin_pages(ana: Auth, staff_app: Flask) -> None:
    store_of(staff_app).create_task(make_task())
    for path in ("/staff/admin/accounts", "/staff/admin/export.csv"):
        response = ana.client.get(path)
        assert response.status_code == 403, path
        assert response.mimetype == "text/html"
        assert "Only an admin can open this page." in text(response)
        assert NAME not in response.get_data(as_text=True)
    token = csrf_token(ana.client, "/staff/")
    refused = ana.client.post(
        "/staff/admin/accounts/disable", data={"csrf_token": token, "email": BO}
    )
    assert refused.status_code == 403
    assert not store_of(staff_app).get_staff(BO).disabled  # type: ignore[union-attr]
    assert "Accounts" not in text(ana.client.get("/staff/"))
    assert store_of(staff_app).audit("t1")[-1].action == "created"  # nothing was exported


def test_it_sends_signed_out_visitors_to_sign_in_from_admin_pages(
    auth: Auth, staff_app: Flask
) -> None:
    response = auth.client.get("/staff/admin/accounts")
    assert response.status_code == 303
    assert response.location.startswith("/staff/login")


def test_it_lets_an_admin_disable_and_enable_accounts_ending_their_sessions(
    ana: Auth, bo: Auth, staff_app: Flask
) -> None:
    page = bo.client.get("/staff/admin/accounts")
    assert page.status_code == 200
    assert f"{ANA} admissions active Disable" in text(page)
    assert f"{BO} admin active you" in text(page)  # no button to disable oneself
    token = csrf_token(bo.client, "/staff/admin/accounts")
    response = bo.client.post(
        "/staff/admin/accounts/disable",
        data={"csrf_token": token, "email": ANA},
        follow_redirects=True,
    )
    assert f"{ANA} disabled." in text(response)
    assert f"{ANA} admissions disabled Enable" in text(response)
    assert ana.client.get("/staff/").status_code == 303  # signed out at once
    assert "Wrong email or password." in text(ana.login())
    token = csrf_token(bo.client, "/staff/admin/accounts")
    bo.client.post("/staff/admin/accounts/enable", data={"csrf_token": token, "email": ANA})
    assert ana.login().status_code == 303


def test_the_account_forms_need_their_csrf_token_and_an_admin_cannot_disable_themselves(
    bo: Auth, staff_app: Flask
) -> None:
    response = bo.client.post("/staff/admin/accounts/disable", data={"email": ANA})
    assert response.status_code == 400
    assert not store_of(staff_app).get_staff(ANA).disabled  # type: ignore[union-attr]
    token = csrf_token(bo.client, "/staff/admin/accounts")
    response = bo.client.post(
        "/staff/admin/accounts/disable",
        data={"csrf_token": token, "email": BO},
        follow_redirects=True,
    )
    assert "You cannot disable your own account." in text(response)
    assert not store_of(staff_app).get_staff(BO).disabled  # type: ignore[union-attr]


def test_it_exports_open_tasks_with_only_what_staff_need_and_audits_it(
    bo: Auth, staff_app: Flask
) -> None:
    store = store_of(staff_app)
    store.create_task(
        make_task(name='=HYPERLINK("http://evil")', for_whom_detail="my son", best_time="noon")
    )
    store.create_task(make_task("t2", status="done"))
    response = bo.client.get("/staff/admin/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["id"] for r in rows] == ["t1"]  # open tasks only
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[0]["callback_number"] == NUMBER  # a number stays a number
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil")'  # a spreadsheet will not run it
    body = response.get_data(as_text=True)
    assert "my son" not in body and "noon" not in body  # no free text
    [entry] = [e for e in store.audit("t1") if e.action == "exported"]
    assert entry.by == BO
    assert not [e for e in store.audit("t2") if e.action == "exported"]


def test_every_view_of_a_task_page_is_an_audit_entry(ana: Auth, bo: Auth, staff_app: Flask) -> None:
    store = store_of(staff_app)
    store.create_task(make_task())
    ana.client.get("/staff/tasks/t1")
    page = bo.client.get("/staff/tasks/t1")
    views = [(e.by, e.action) for e in store.audit("t1") if e.action == "viewed"]
    assert views == [(ANA, "viewed"), (BO, "viewed")]
    assert "Who saw these details (2) " in text(page)  # this view included, newest first
    assert re.search(rf"{BO} viewed .* {ANA} viewed", text(page))
    ana.client.get("/staff/queue.json")  # the queue holds no personal details: not audited
    ana.client.get("/staff/")
    assert len([e for e in store.audit("t1") if e.action == "viewed"]) == 2
