"""Server-side staff sessions, over real HTTP: a copied cookie dies with the session it names."""

from __future__ import annotations

import hashlib
import http.client
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from redis import Redis
from werkzeug.security import generate_password_hash

from intake import create_app
from intake.config import Settings
from intake.store import StaffAccount, Store
from tests.support.serving import serve_app
from tests.support.stores import make_store

ANA = "ana@center.org"
PASSWORD = "correct horse battery"


@dataclass
class Reply:
    status: int
    location: str
    body: str


@dataclass
class Browser:
    """Just enough of a browser: one cookie jar, no redirects followed."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";")[0]
            if value and "Expires=Thu, 01 Jan 1970" not in header:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        reply = Reply(
            response.status, response.headers.get("Location", ""), response.read().decode()
        )
        conn.close()
        return reply

    def token(self, path: str) -> str:
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.request("GET", path).body)
        assert match
        return match.group(1)

    def sign_in(self, email: str = ANA, password: str = PASSWORD) -> Reply:
        form = {"email": email, "password": password, "csrf_token": self.token("/staff/login")}
        return self.request("POST", "/staff/login", form)

    def sign_out(self) -> Reply:
        form = {"csrf_token": self.token("/staff/")}
        return self.request("POST", "/staff/logout", form)

    def signed_in(self) -> bool:
        reply = self.request("GET", "/staff/")
        assert reply.status in (200, 303)
        return reply.status == 200


@pytest.fixture
def store(redis_conn: Redis) -> Store:
    store = make_store(redis_conn)
    store.save_staff(StaffAccount(email=ANA, password_hash=generate_password_hash(PASSWORD)))
    return store


@pytest.fixture
def port(settings: Settings, store: Store) -> Iterator[int]:
    """The app on a real HTTP server on 127.0.0.1, in a thread."""
    with serve_app(create_app(settings)) as port:
        yield port


def ana_and_a_copy(port: int) -> tuple[Browser, Browser]:
    """Ana signed in, and someone holding a copy of her cookie."""
    ana = Browser(port)
    assert ana.sign_in().status == 303
    thief = Browser(port, cookies=dict(ana.cookies))
    assert thief.signed_in()
    return ana, thief


def test_a_copied_cookie_stops_working_after_sign_out(port: int) -> None:
    ana, thief = ana_and_a_copy(port)
    assert ana.sign_out().location == "/staff/login"
    assert not thief.signed_in()
    assert not ana.signed_in()


def test_a_copied_cookie_stops_working_when_the_account_is_disabled(
    port: int, store: Store
) -> None:
    ana, thief = ana_and_a_copy(port)
    account = store.get_staff(ANA)
    assert account is not None
    store.save_staff(account.model_copy(update={"disabled": True}))
    assert not thief.signed_in() and not ana.signed_in()
    assert ana.sign_in().status == 200  # refused like a wrong password
    store.save_staff(account)  # enabled again: a new sign-in works, the old cookies stay dead
    assert ana.sign_in().status == 303
    assert not thief.signed_in()


def test_a_copied_cookie_stops_working_when_the_password_changes(
    port: int, store: Store, redis_conn: Redis
) -> None:
    ana, thief = ana_and_a_copy(port)
    account = store.get_staff(ANA)
    assert account is not None
    new_hash = generate_password_hash("a brand new password")
    store.save_staff(account.model_copy(update={"password_hash": new_hash}))
    assert not thief.signed_in() and not ana.signed_in()
    assert not list(redis_conn.scan_iter("intake:staff-session:*"))


def test_signing_out_ends_every_session_of_the_account(port: int) -> None:
    desk, phone = Browser(port), Browser(port)
    assert desk.sign_in().status == 303 and phone.sign_in().status == 303
    desk.sign_out()
    assert not phone.signed_in()


def test_the_cookie_holds_only_a_random_id_kept_hashed_in_redis_with_an_expiry(
    port: int, redis_conn: Redis, settings: Settings
) -> None:
    ana = Browser(port)
    ana.token("/staff/login")
    # Before sign-in the CSRF token lives in a signed cookie: sign-in pages never fill Redis.
    assert set(ana.cookies) == {"staff_anonymous"}
    assert not list(redis_conn.scan_iter("intake:staff-session*"))
    ana.sign_in()
    assert "staff_anonymous" not in ana.cookies
    sid = ana.cookies["session"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sid)
    key = f"intake:staff-session:{hashlib.sha256(sid.encode()).hexdigest()}"
    assert redis_conn.exists(key)
    assert 0 < redis_conn.ttl(key) <= settings.staff_idle_minutes * 60
    dump = b" ".join([k + b" " + (redis_conn.dump(k) or b"") for k in redis_conn.scan_iter()])
    assert sid.encode() not in dump
    forged = Browser(port, cookies={"session": "x" * 43})
    assert not forged.signed_in()
    ana.sign_out()
    assert "session" not in ana.cookies and "staff_anonymous" in ana.cookies  # "signed out"
    assert not redis_conn.exists(key)
