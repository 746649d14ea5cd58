"""Hostile and broken requests, over the test client and a real Redis: refused cheaply, never 5xx.

The same body cap through gunicorn, with memory measured, is in tests/e2e/test_body_limit.py.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from intake.config import Settings
from intake.store import StaffAccount, Store
from intake.web.body_limit import MAX_BODY_BYTES
from tests.support import factories

from .conftest import replies, sign, twilio_sms_params

STAFF = "ana@center.org"
PASSWORD = "correct horse battery"


def sign_in(app: Flask, client: FlaskClient) -> None:
    store: Store = app.extensions["intake"].store
    store.save_staff(StaffAccount(email=STAFF, password_hash=generate_password_hash(PASSWORD)))
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, page
    data = {"email": STAFF, "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/staff/login", data=data).status_code == 303


def is_twiml(response: TestResponse) -> bool:
    return response.mimetype == "application/xml" and ET.fromstring(response.data).tag == "Response"


# --- the body cap -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sms", "/voice", "/voice/input", "/voice/dial-status"])
def test_it_answers_an_oversized_webhook_body_with_empty_twiml(
    client: FlaskClient, path: str
) -> None:
    response = client.post(path, data={"Body": "a" * MAX_BODY_BYTES})

    assert response.status_code == 413
    assert is_twiml(response)
    assert replies(response.data) == []


@pytest.mark.parametrize("path", ["/staff/login", "/staff/logout", "/staff/tasks/t1/claim"])
def test_it_answers_an_oversized_staff_body_with_a_plain_page(
    client: FlaskClient, path: str
) -> None:
    response = client.post(path, data={"email": "a" * MAX_BODY_BYTES})

    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "Request too large" in response.get_data(as_text=True)


def chunked(client: FlaskClient, path: str, body: bytes, signature: str = "") -> TestResponse:
    """A body without Content-Length, as gunicorn hands on a chunked one."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_it_refuses_a_chunked_body_once_it_passes_the_cap(client: FlaskClient) -> None:
    response = chunked(client, "/sms", b"Body=" + b"a" * MAX_BODY_BYTES)

    assert response.status_code == 413
    assert is_twiml(response)


def test_it_reads_a_chunked_body_under_the_cap_as_usual(
    client: FlaskClient, settings: Settings
) -> None:
    params = twilio_sms_params("hi", "+13125550199")
    body = "&".join(f"{k}={v}" for k, v in params.items()).replace("+", "%2B").encode()

    response = chunked(client, "/sms", body, sign(settings, "/sms", params))

    assert response.status_code == 200
    assert any("Reply STOP to opt out" in m for m in replies(response.data))


def test_it_accepts_a_body_right_at_the_cap(
    client: FlaskClient, settings: Settings, post_signed: Callable[..., TestResponse]
) -> None:
    params = twilio_sms_params("hi", "+13125550199")
    params["Padding"] = ""
    used = len("&".join(f"{k}={v}" for k, v in params.items()).replace("+", "%2B"))
    params["Padding"] = "p" * (MAX_BODY_BYTES - used)

    response = post_signed("/sms", params)

    assert response.request.content_length == MAX_BODY_BYTES
    assert response.status_code == 200
    assert replies(response.data)


# --- two 500s found by hand, now ordinary answers -----------------------------------


def test_it_ignores_a_next_page_with_a_line_break(app: Flask, client: FlaskClient) -> None:
    page = client.get("/staff/login?next=/staff/%0d%0aSet-Cookie:%20a=b")
    assert page.status_code == 200
    store: Store = app.extensions["intake"].store
    store.save_staff(StaffAccount(email=STAFF, password_hash=generate_password_hash(PASSWORD)))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert token

    response = client.post(
        "/staff/login?next=/staff/%0d%0aSet-Cookie:%20a=b",
        data={"email": STAFF, "password": PASSWORD, "csrf_token": token.group(1)},
    )

    assert response.status_code == 303
    assert response.location == "/staff/"


def test_a_lone_carriage_return_in_next_never_gives_a_500(app: Flask, client: FlaskClient) -> None:
    # GET /staff?next=/staff/%0D (issue 10): signed out, then signed in, then signing in.
    for signed_in in (False, True):
        if signed_in:
            sign_in(app, client)
        for path in ("/staff?next=/staff/%0D", "/staff/login?next=/staff/%0D"):
            response = client.get(path, follow_redirects=True)
            assert response.status_code == 200, path
            for hop in [*response.history, response]:
                assert "\r" not in hop.headers.get("Location", ""), path
    client.post("/staff/logout", data={"csrf_token": csrf(client, "/staff/")})
    response = client.post(
        "/staff/login?next=/staff/%0D",
        data={"email": STAFF, "password": PASSWORD, "csrf_token": csrf(client, "/staff/login")},
    )
    assert response.status_code == 303
    assert response.location == "/staff/"


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("path", ["/staff", "/staff/login", "/sms", "/voice/input"])
@pytest.mark.parametrize("query", ["next=/staff/\r", "a=\n", "\r\n"])
def test_a_raw_line_break_in_the_request_line_gets_a_400_never_a_500(
    client: FlaskClient, method: str, path: str, query: str
) -> None:
    # Found by tests/web/test_fuzz.py: HEAD /staff?next=/staff/<CR> made werkzeug's redirect to
    # /staff/ copy the CR into Location and raise. HTTP servers refuse such a line; the app
    # answers it plainly anyway.
    response = client.open(path, method=method, query_string=query)

    assert response.status_code == 400
    assert "\r" not in response.headers.get("Location", "")
    if method == "HEAD":
        assert response.data == b""
    elif path.startswith("/staff"):
        assert response.data.lower().startswith(b"<!doctype html")
    else:
        assert is_twiml(response)
        assert replies(response.data) == []


def test_a_line_break_decoded_from_the_path_is_refused_too(client: FlaskClient) -> None:
    assert client.get("/staff/tasks/t1%0a").status_code == 400
    assert client.get("/staff/tasks/t1%0aX").status_code == 400


def csrf(client: FlaskClient, path: str) -> str:
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(True))
    assert token
    return token.group(1)


def test_it_answers_404_for_a_task_id_that_names_another_key(
    app: Flask, client: FlaskClient
) -> None:
    store: Store = app.extensions["intake"].store
    store.create_task(factories.make_task("abc"))  # so intake:task:abc:audit is a list
    sign_in(app, client)

    assert client.get("/staff/tasks/abc").status_code == 200
    assert client.get("/staff/tasks/abc:audit").status_code == 404
    assert store.get_task("abc:audit") is None
    assert store.audit("abc:audit") == []
    with pytest.raises(KeyError):
        store.change_task("abc:audit", "claim", STAFF, factories.make_task().created_at)
