"""Over 10,000 generated requests to every webhook and staff route: no 5xx, always TwiML or HTML.

In process (Flask's test client) with a real Redis, for speed. Webhook requests are signed with
Twilio's real RequestValidator over exactly the form the app will parse, so they reach the
handlers; a share is unsigned or wrongly signed. Voice requests carry no session in the URL
(`?s=`), a live call's, or one damaged or made up. Staff requests come from a visitor and from a
signed-in member of staff with a valid CSRF token, against real tasks.
"""

from __future__ import annotations

import json
import re
import string
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.security import generate_password_hash
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from intake import create_app
from intake.config import Settings
from intake.store import StaffAccount, Store
from tests.support import factories

PER_EXAMPLE = 5
EXAMPLES = 2000  # 10,000 requests (and a few to set up), in about a minute
MIN_REQUESTS = 10_000
STAFF = "ana@center.org"
PASSWORD = "correct horse battery"
TASK_IDS = ["a1b2c3d4e5", "f6e5d4c3b2"]
ACTIONS = ["claim", "attempt", "reschedule", "done", "reopen"]
AUDIT_KEY = f"{TASK_IDS[0]}:audit"  # names the task's audit list, not a task
PHONE = "+13125550177"  # the caller of the calls in progress
NEWCOMER = "bo@center.org"  # signs in afresh, each time from a new browser

# --- what a hostile or broken request may carry ---------------------------------------

CONTROL = "".join(chr(c) for c in [*range(0, 32), 127]) + "\u0085\u2028\u2029\ufeff\ud7ff"
junk = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(CONTROL), max_size=40)
long_text = st.builds(
    lambda c, n: c * n, st.sampled_from(["a", "é", "😀", "%", "\x00"]), st.integers(1000, 10_000)
)
phones = st.sampled_from(
    [
        "+13125550199",
        "+13125550188",
        "3125550199",
        "(312) 555-0199",
        "+1 312 555 0199",
        "001 312 555 0199",
        "+447911123456",
        "+266696687",
        "+12345",
        "+1" + "9" * 30,
        "client:alice",
        "sip:bob@example.org",
        "anonymous",
        "Anonymous",
        "restricted",
        "unknown",
        "",
        " ",
        "+",
        "++1312555",
        "whatsapp:+13125550199",
    ]
)
texts = st.one_of(
    st.sampled_from(
        [
            "hi",
            "CALL",
            "STOP",
            "START",
            "YES",
            "NO",
            "MENU",
            "SKIP",
            "ESPAÑOL",
            "i want to end my life",
            "727-391-7001",
            "evening",
            "ME",
        ]
    ),
    junk,
    long_text,
)
digits = st.one_of(
    st.sampled_from(["1", "2", "0", "9", "*", "#", "3125550199#", "12", ""]),
    st.text(alphabet="0123456789*#abc ", max_size=20),
    junk,
)
confidence = st.one_of(
    st.sampled_from(["0.9", "0.1", "1", "0", "-1", "2", "nan", "inf", "-inf", "1e309", "", "0,5"]),
    junk,
)
sids = st.one_of(
    st.sampled_from(["SM" + "a" * 32, "CA" + "b" * 32, ""]),
    st.text(alphabet=string.hexdigits, min_size=0, max_size=34).map(lambda h: "CA" + h),
    junk,
)
dial_status = st.one_of(
    st.sampled_from(["completed", "answered", "busy", "no-answer", "failed", "canceled", ""]), junk
)

WEBHOOK_FIELDS: dict[str, dict[str, st.SearchStrategy[str]]] = {
    "/sms": {
        "MessageSid": sids,
        "SmsSid": sids,
        "From": phones | junk,
        "To": phones,
        "Body": texts,
        "NumMedia": junk,
    },
    "/voice": {"CallSid": sids, "From": phones | junk, "To": phones, "CallStatus": junk},
    "/voice/input": {
        "CallSid": sids,
        "From": phones | junk,
        "Digits": digits,
        "SpeechResult": texts,
        "Confidence": confidence,
    },
    "/voice/dial-status": {"CallSid": sids, "From": phones | junk, "DialCallStatus": dial_status},
}
# Calls that exist, so /voice/input and /voice/dial-status reach real sessions.
CALL_SIDS = ["CA" + "1" * 32, "CA" + "2" * 32]

bad_percent = st.sampled_from(
    ["%", "%z", "%zz", "%0", "%%", "%u00e9", "%c3%28", "%ff%fe", "%00", "%0d%0a", "+%2"]
)
query = st.one_of(
    st.just(""),
    st.lists(
        st.tuples(st.sampled_from(["next", "a", "channel", "", "s"]), junk | bad_percent),
        max_size=3,
    ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
    bad_percent,
)
carried_sessions = st.one_of(
    st.none(),
    st.none(),
    st.sampled_from(["@0", "@1", "@0", "@1", "@cut", "@flipped", "", "gAAAAA", "x" * 2000]),
    junk,
    bad_percent,
)


@dataclass
class Req:
    method: str
    path: str
    query: str = ""
    pairs: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes | None = None  # a body sent as is (broken percent-encoding, bad UTF-8, ...)
    content_type: str | None = "application/x-www-form-urlencoded"
    signing: str = "signed"  # signed, unsigned, wrong
    staff: str = "visitor"  # visitor, member (signed in), newcomer (signs in)
    csrf: bool = False
    # The voice session carried in the URL (`?s=`): None for none, "@0"/"@1" for a live call's
    # real token, "@cut"/"@flipped" for one damaged, anything else sent as it is.
    carried: str | None = None


@st.composite
def form_pairs(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[str]]) -> list[tuple[str, str]]:
    """The route's fields, some missing, some twice, plus strangers."""
    pairs: list[tuple[str, str]] = []
    for name, values in fields.items():
        for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):
            pairs.append((name, draw(values)))
    for _ in range(draw(st.integers(0, 2))):
        pairs.append((draw(junk), draw(junk)))
    return pairs


raw_bodies = st.one_of(
    st.lists(
        st.tuples(
            st.sampled_from(["Body", "From", "CallSid", "Digits", "email", "x"]), bad_percent | junk
        ),
        max_size=4,
    ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
    st.sampled_from(
        [b"=", b"&&&", b"a=1&a=2&a=3", b"From=%2B1312555&From=client%3Aalice", b"\xff\xfe=\x00"]
    ),
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/json",
        "text/plain",
        None,
    ]
)


@st.composite
def webhook_requests(draw: st.DrawFn) -> Req:
    path = draw(st.sampled_from([*WEBHOOK_FIELDS] * 8 + ["/voice/", "/voice/nope", "/sms/"]))
    fields = WEBHOOK_FIELDS.get(path, WEBHOOK_FIELDS["/sms"])
    if path in ("/voice/input", "/voice/dial-status") and draw(st.booleans()):
        fields = {**fields, "CallSid": st.sampled_from(CALL_SIDS)}
    req = Req(
        method=draw(st.sampled_from(["POST"] * 18 + ["GET", "PUT"])),
        path=path,
        query=draw(st.sampled_from(["", "", ""]) | query),
        signing=draw(st.sampled_from(["signed"] * 6 + ["unsigned", "wrong"])),
    )
    if path.startswith("/voice"):
        req.carried = draw(carried_sessions)
    if draw(st.integers(0, 9)) == 0:
        req.raw = draw(raw_bodies)
        req.content_type = draw(content_types)
    else:
        req.pairs = draw(form_pairs(fields))
    return req


STAFF_PATHS = st.one_of(
    st.sampled_from([f"/staff/tasks/{t}/{a}" for t in TASK_IDS for a in ACTIONS]),
    st.sampled_from(
        [f"/staff/tasks/{t}" for t in [*TASK_IDS, AUDIT_KEY]] + ["/staff/", "/staff/login"]
    ),
    st.sampled_from(
        [
            "/staff/",
            "/staff",
            "/staff/login",
            "/staff/logout",
            "/staff/queue.json",
            "/staff/static/staff.css",
            "/staff/static/queue.js",
        ]
    ),
    st.sampled_from([*TASK_IDS, AUDIT_KEY, "nope", "..", "%00", "a" * 300]).map(
        lambda t: f"/staff/tasks/{t}"
    ),
    st.tuples(
        st.sampled_from([*TASK_IDS, AUDIT_KEY, "x"]),
        st.sampled_from(
            ["claim", "attempt", "reschedule", "done", "reopen", "delete", "", "%0d%0a"]
        ),
    ).map(lambda t: f"/staff/tasks/{t[0]}/{t[1]}"),
    junk.map(lambda j: "/staff/" + j.replace("?", "%3F").replace("#", "%23")),
    st.sampled_from(
        ["/staff/static/../views.py", "/staff/static/%2e%2e/x", "/staff/static/nope.js"]
    ),
)
STAFF_FIELDS: dict[str, st.SearchStrategy[str]] = {
    "email": st.sampled_from([STAFF, "ANA@center.org", "", "not an email"]) | junk | long_text,
    "password": st.sampled_from([PASSWORD, ""]) | junk,
    "outcome": st.sampled_from(
        ["no_answer", "left_voicemail", "reached", "wrong_number", "declined", ""]
    )
    | junk,
    "when": st.sampled_from(
        ["2030-01-01T09:00", "2000-01-01T09:00", "2030-13-45T25:61", "9999-12-31T23:59", "", "now"]
    )
    | junk,
    "note": texts,
}


@st.composite
def staff_requests(draw: st.DrawFn) -> Req:
    path = draw(STAFF_PATHS)
    member = draw(st.sampled_from(["visitor", "member", "member"]))
    req = Req(
        method=draw(st.sampled_from(["GET"] * 6 + ["POST"] * 8 + ["HEAD", "DELETE"])),
        path=path,
        query=draw(st.sampled_from(["", ""]) | query | junk.map(lambda j: "next=/staff/" + j)),
        staff=member,
        # A member never signs out here: the rest of the run needs them signed in.
        csrf=draw(st.booleans()) and not path.startswith("/staff/logout"),
        signing="unsigned",
    )
    if draw(st.integers(0, 9)) == 0:
        req.raw = draw(raw_bodies)
        req.content_type = draw(content_types)
    else:
        req.pairs = draw(form_pairs(STAFF_FIELDS))
    return req


next_pages = st.tuples(
    st.sampled_from(["/staff/", "/staff/tasks/", "//", "https://evil.example/", ""]),
    junk | bad_percent,
).map(lambda t: "next=" + t[0] + t[1])


@st.composite
def sign_ins(draw: st.DrawFn) -> Req:
    """A good sign-in from a new browser, back to a page named in `next`."""
    return Req(
        method="POST",
        path="/staff/login",
        query=draw(next_pages),
        pairs=[("email", NEWCOMER), ("password", PASSWORD)],
        staff="newcomer",
        csrf=True,
        signing="unsigned",
    )


# A fixed number per example, so the count is known: EXAMPLES * PER_EXAMPLE.
requests_ = st.lists(
    st.one_of(
        webhook_requests(), webhook_requests(), staff_requests(), sign_ins() | staff_requests()
    ),
    min_size=PER_EXAMPLE,
    max_size=PER_EXAMPLE,
)

# --- sending and judging ----------------------------------------------------------------


class Fuzzer:
    def __init__(self, app: Flask, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.validator = RequestValidator(settings.twilio_auth_token)
        self.visitor = app.test_client()
        self.member = app.test_client()
        self.csrf = ""
        self.sent = 0
        self.newcomers = 0
        self.statuses: dict[int, int] = {}
        self.tokens: list[str] = []  # the `?s=` of each call in CALL_SIDS, once started

    def start_call(self, call_sid: str) -> None:
        """A call in progress; keeps the session its TwiML carries in the Gather's URL."""
        response = self.send(Req("POST", "/voice", pairs=[("CallSid", call_sid), ("From", PHONE)]))
        judge(Req("POST", "/voice"), response)
        action = next(ET.fromstring(response.data).iter("Gather")).get("action", "")
        token = parse_qs(urlsplit(action).query).get("s", [""])[0]
        assert token, action
        self.tokens.append(token)

    def carried(self, value: str) -> str:
        if value in ("@0", "@1"):
            return self.tokens[int(value[1])]
        if value == "@cut":
            return self.tokens[0][: len(self.tokens[0]) // 2]
        if value == "@flipped":
            token = self.tokens[0]
            middle = len(token) // 2
            return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
        return value

    def sign_in(self) -> None:
        page = self.member.get("/staff/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, page
        data = {"email": STAFF, "password": PASSWORD, "csrf_token": token.group(1)}
        assert self.member.post("/staff/login", data=data).status_code == 303
        page = self.member.get(f"/staff/tasks/{TASK_IDS[0]}").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, page
        self.csrf = token.group(1)

    def send(self, req: Req) -> TestResponse:
        client = self.member if req.staff == "member" else self.visitor
        csrf = self.csrf
        kwargs: dict[str, Any] = {
            "method": req.method,
            "path": req.path,
            "query_string": req.query,
            "headers": {},
        }
        if req.staff == "newcomer":
            # A browser of its own, from an address of its own (sign-ins are limited per address).
            client = self.app.test_client()
            self.newcomers += 1
            kwargs["environ_base"] = {
                "REMOTE_ADDR": f"10.0.{self.newcomers // 250}.{self.newcomers % 250}"
            }
            page = client.get("/staff/login", environ_base=kwargs["environ_base"])
            self.sent += 1
            judge(Req("GET", "/staff/login"), page)
            found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
            assert found, page.data
            csrf = found.group(1)
        if req.carried is not None:
            carried = _encode([("s", self.carried(req.carried))])
            kwargs["query_string"] = "&".join(filter(None, [req.query, carried]))
        pairs = list(req.pairs)
        if req.csrf:
            pairs.append(("csrf_token", csrf))
        if req.raw is not None:
            kwargs["data"] = req.raw
            if req.content_type:
                kwargs["content_type"] = req.content_type
        elif req.method not in ("GET", "HEAD"):
            kwargs["data"] = MultiDict(pairs)
        else:
            query = kwargs["query_string"]
            kwargs["query_string"] = "&".join(filter(None, [query, _encode(pairs)]))
        if req.signing != "unsigned":
            kwargs["headers"]["X-Twilio-Signature"] = self.signature(kwargs, req.signing == "wrong")
        self.sent += 1
        response = client.open(**kwargs)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response

    def signature(self, kwargs: dict[str, Any], wrong: bool) -> str:
        """Twilio's signature over exactly the URL and form the app will see."""
        request = Request(
            EnvironBuilder(**{k: v for k, v in kwargs.items() if k != "headers"}).get_environ()
        )
        query = request.query_string.decode()
        url = self.settings.public_base_url + request.path + (f"?{query}" if query else "")
        params = request.form if request.method == "POST" else {}
        signature: str = self.validator.compute_signature(url, params)
        return signature[::-1] if wrong else signature


def _encode(pairs: list[tuple[str, str]]) -> str:
    from urllib.parse import urlencode

    return urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in pairs])


def is_webhook(path: str) -> bool:
    return (
        path == "/sms" or path == "/voice" or path.startswith("/voice/") or path.startswith("/sms/")
    )


def judge(req: Req, response: TestResponse) -> None:
    """No 5xx; TwiML from the webhooks, HTML (or the poll's JSON, or a static file) from staff."""
    where = f"{req}\n-> {response.status_code} {response.mimetype}: {response.data[:300]!r}"
    assert response.status_code < 500, where
    body = response.data
    if req.method == "HEAD":
        assert body == b"", where
        return
    if response.mimetype == "application/xml":
        assert ET.fromstring(body).tag == "Response", where
        assert is_webhook(response.request.path), where
    elif response.mimetype == "text/html":
        assert body.lstrip().lower().startswith(b"<!doctype html"), where
        body.decode("utf-8")
        if is_webhook(response.request.path):
            assert response.status_code in (404, 405), where  # no such route or method: Flask's
    elif response.mimetype == "application/json":
        assert response.request.path == "/staff/queue.json", where
        json.loads(body)
    else:
        assert response.request.path.startswith("/staff/static/"), where
        assert response.status_code in (200, 304), where


@pytest.fixture
def fuzzer(settings: Settings, redis_conn: Redis) -> Iterator[Fuzzer]:
    app = create_app(settings)
    store: Store = app.extensions["intake"].store
    # One round of hashing: sign-ins are not what this measures.
    quick = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
    for email in (STAFF, NEWCOMER):
        store.save_staff(StaffAccount(email=email, password_hash=quick))
    for task_id in TASK_IDS:
        store.create_task(factories.make_task(task_id))
    fuzzer = Fuzzer(app, settings)
    for call_sid in CALL_SIDS:  # two calls in progress
        fuzzer.start_call(call_sid)
    fuzzer.sign_in()
    yield fuzzer


def test_no_generated_request_gets_a_5xx_or_a_malformed_answer(
    fuzzer: Fuzzer, capsys: pytest.CaptureFixture[str]
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests_)
    def each(reqs: list[Req]) -> None:
        for req in reqs:
            judge(req, fuzzer.send(req))

    each()

    with capsys.disabled():
        print(f"\nfuzz: {fuzzer.sent} requests, statuses {dict(sorted(fuzzer.statuses.items()))}")
    assert fuzzer.sent >= MIN_REQUESTS, fuzzer.sent
    # The fuzz reached the handlers, not only the doors: signed webhooks answered, staff pages too.
    assert fuzzer.statuses.get(200, 0) > MIN_REQUESTS // 4, fuzzer.statuses
    assert fuzzer.statuses.get(403, 0) > 0 and fuzzer.statuses.get(303, 0) > 0, fuzzer.statuses
