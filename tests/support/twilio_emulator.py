"""A local stand-in for Twilio's Messages endpoint, driven by the real twilio client.

It records every POST /2010-04-01/Accounts/{Sid}/Messages.json (form fields and credentials),
answers 201 with a message resource shaped like Twilio's, and can be scripted per `To` number to
answer as Twilio does when it refuses: 21610 (unsubscribed), 21211 (invalid 'To'), 429, 500, to
hang for a while, or to accept a message and then hold the answer until released (a sender that
dies meanwhile never learns its message went out). GET on the same path lists the accepted
messages, newest first, filtered by To and From, as Twilio's Message list does.

WhatsApp sends are checked as Twilio checks them: a `whatsapp:` To needs a `whatsapp:` From
(21910 otherwise), and a message is either a Body or a Content API template: ContentSid (HX + 32
hex, one of `templates`: 21655 otherwise) with ContentVariables, a JSON object of strings for
the template's {{1}}, {{2}}... (21656 when it is not, or leaves one unfilled); the accepted
message's body is the template filled in.

It also holds the account's phone numbers (`add_number`): GET IncomingPhoneNumbers.json lists
them filtered by PhoneNumber, and POST IncomingPhoneNumbers/{Sid}.json updates their webhook
fields (recorded in `number_updates`; an unknown field or a method other than GET/POST is
refused with 400, where Twilio would ignore or refuse it).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from .net import LocalServer, QuietHandler

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")
NUMBERS_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/IncomingPhoneNumbers\.json$")
NUMBER_PATH = re.compile(
    r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/IncomingPhoneNumbers/(PN[0-9a-fA-F]{32})\.json$"
)
# form field -> resource field, for what an update may change here
NUMBER_FIELDS = {
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
}
# outcome -> (HTTP status, Twilio error code, message)
ERRORS: dict[str, tuple[int, int, str]] = {
    "unsubscribed": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "invalid_to": (400, 21211, "The 'To' number {to} is not a valid phone number."),
    "rate_limited": (429, 20429, "Too Many Requests"),
    "server_error": (500, 20500, "Internal Server Error"),
}


@dataclass
class Request:
    """One POST to the Messages endpoint and how the emulator answered it."""

    account_sid: str
    to: str
    from_: str
    body: str
    form: dict[str, str]
    username: str
    password: str
    status: int
    at: float  # time.time() when it was answered

    @property
    def content_sid(self) -> str:
        return self.form.get("ContentSid", "")

    @property
    def content_variables(self) -> dict[str, str]:
        return dict(json.loads(self.form.get("ContentVariables") or "{}"))


class TwilioEmulator:
    """Messages.json on 127.0.0.1; `requests` holds every attempt, `sent` the accepted ones."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[Request] = []
        self._scripts: dict[str, list[str | tuple[str, float]]] = {}
        self._lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []  # accepted, oldest first
        self.lookups: list[dict[str, str]] = []  # the query of each list request
        self.numbers: dict[str, dict[str, Any]] = {}  # sid -> IncomingPhoneNumber resource
        self.number_updates: list[dict[str, str]] = []  # the form of each accepted update
        self.templates: dict[str, str] = {}  # ContentSid -> its text, with {{1}}, {{2}}...
        self.holding = threading.Event()  # an "accept_and_hold" request has arrived
        self._release = threading.Event()
        self._server = LocalServer(_Handler, self)

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> TwilioEmulator:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.stop()

    def release(self) -> None:
        """Let held answers go (to a sender that may no longer be there)."""
        self._release.set()

    def script(self, to: str, *outcomes: str | tuple[str, float]) -> None:
        """Answer the next requests to `to` with these outcomes, in order, then accept them.

        An outcome is a key of ERRORS, "ok", ("hang", seconds) to answer only after a pause, or
        "accept_and_hold": accept the message, set `holding`, and answer only after release().
        """
        with self._lock:
            self._scripts[to] = list(outcomes)

    @property
    def sent(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.status == 201]

    def sent_to(self, number: str) -> list[Request]:
        return [r for r in self.sent if r.to == number]

    def attempts_to(self, number: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.to == number]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Request]:
        """Wait until at least `count` messages were accepted; returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.sent) >= count:
                return self.sent
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.sent)}: {self.sent}")

    def answer(self, path: str, auth: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Decide the response to one request and record it."""
        match = MESSAGES_PATH.match(path)
        if match is None:
            return 404, _error(404, 20404, "The requested resource was not found")
        username, password = _basic(auth)
        to = form.get("To", "")
        outcome: str | tuple[str, float] = "refused"  # until a script or "ok" says otherwise
        if (username, password) != (match.group(1), self.auth_token) or (
            match.group(1) != self.account_sid
        ):
            status, payload = 401, _error(401, 20003, "Authenticate")
        elif not to or not form.get("From") or not (form.get("Body") or form.get("ContentSid")):
            status, payload = 400, _error(400, 21604, "A 'To', 'From' and 'Body' are required")
        elif to.startswith("whatsapp:") != form.get("From", "").startswith("whatsapp:"):
            status, payload = 400, _error(400, 21910, "Invalid From and To pair")
        elif form.get("ContentSid") and (problem := self._content_problem(form)) is not None:
            status, payload = 400, _error(400, *problem)
        else:
            with self._lock:
                script = self._scripts.get(to, [])
                outcome = script.pop(0) if script else "ok"
            if isinstance(outcome, tuple):
                time.sleep(outcome[1])
                outcome = "ok"
            if outcome in ("ok", "accept_and_hold"):
                status, payload = 201, self._message(match.group(1), form)
            else:
                code_status, code, message = ERRORS[outcome]
                status, payload = code_status, _error(code_status, code, message.format(to=to))
        with self._lock:  # recorded before answering: a client that saw the answer sees this
            self.requests.append(
                Request(
                    account_sid=match.group(1),
                    to=to,
                    from_=form.get("From", ""),
                    body=form.get("Body", ""),
                    form=form,
                    username=username,
                    password=password,
                    status=status,
                    at=time.time(),
                )
            )
            if status == 201:
                self.messages.append(payload)
        if outcome == "accept_and_hold":
            self.holding.set()
            self._release.wait()
        return status, payload

    def list_messages(
        self, path: str, auth: str, query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """GET Messages.json: accepted messages, newest first, filtered by To and From."""
        match = MESSAGES_PATH.match(path)
        if match is None:
            return 404, _error(404, 20404, "The requested resource was not found")
        credentials = (self.account_sid, self.auth_token)
        if _basic(auth) != credentials or match.group(1) != self.account_sid:
            return 401, _error(401, 20003, "Authenticate")
        size = int(query.get("PageSize", "50"))
        with self._lock:
            self.lookups.append(query)
            found = [
                m
                for m in reversed(self.messages)
                if query.get("To", m["to"]) == m["to"] and query.get("From", m["from"]) == m["from"]
            ][:size]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json?PageSize={size}&Page=0"
        return 200, {
            "messages": found,
            "end": max(len(found) - 1, 0),
            "first_page_uri": uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }

    def add_number(self, phone_number: str, **fields: str | None) -> str:
        """A number of the account, with its webhook fields as Twilio names them; its SID."""
        sid = "PN" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        resource: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "phone_number": phone_number,
            "friendly_name": phone_number,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "sms_application_sid": None,
            "voice_application_sid": None,
            "trunk_sid": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
        }
        for field in NUMBER_FIELDS.values():
            resource[field] = "POST" if field.endswith("_method") else ""
        resource.update(fields)
        with self._lock:
            self.numbers[sid] = resource
        return sid

    def _authorised(self, account_sid: str, auth: str) -> bool:
        return (
            _basic(auth) == (self.account_sid, self.auth_token) and account_sid == self.account_sid
        )

    def list_numbers(
        self, path: str, auth: str, query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """GET IncomingPhoneNumbers.json, filtered by PhoneNumber (a part of it, as Twilio does)."""
        match = NUMBERS_PATH.match(path)
        assert match is not None
        if not self._authorised(match.group(1), auth):
            return 401, _error(401, 20003, "Authenticate")
        wanted = query.get("PhoneNumber", "")
        size = int(query.get("PageSize", "50"))
        with self._lock:
            found = [dict(n) for n in self.numbers.values() if wanted in n["phone_number"]][:size]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/IncomingPhoneNumbers.json?PageSize={size}"
        return 200, {
            "incoming_phone_numbers": found,
            "end": max(len(found) - 1, 0),
            "first_page_uri": uri + "&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }

    def update_number(
        self, path: str, auth: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """POST IncomingPhoneNumbers/{Sid}.json: change the webhook fields."""
        match = NUMBER_PATH.match(path)
        assert match is not None
        if not self._authorised(match.group(1), auth):
            return 401, _error(401, 20003, "Authenticate")
        with self._lock:
            number = self.numbers.get(match.group(2))
            if number is None:
                return 404, _error(404, 20404, "The requested resource was not found")
            unknown = sorted(set(form) - set(NUMBER_FIELDS))
            if unknown:
                return 400, _error(400, 21200, f"Unexpected parameters {unknown}")
            for key, value in form.items():
                if key.endswith("Method") and value not in ("GET", "POST"):
                    return 400, _error(400, 21200, f"{key} must be GET or POST")
            for key, value in form.items():
                number[NUMBER_FIELDS[key]] = value
            number["date_updated"] = formatdate(usegmt=True)
            self.number_updates.append(form)
            return 200, dict(number)

    def _content_problem(self, form: dict[str, str]) -> tuple[int, str] | None:
        template = self.templates.get(form["ContentSid"])
        if template is None:
            return 21655, "The ContentSid is Invalid"
        try:
            variables = json.loads(form.get("ContentVariables") or "{}")
        except ValueError:
            variables = None
        needed = set(re.findall(r"\{\{(\d+)\}\}", template))
        if (
            not isinstance(variables, dict)
            or not all(isinstance(v, str) for v in variables.values())
            or not needed <= set(variables)
        ):
            return 21656, "The ContentVariables Parameter is invalid"
        return None

    def _filled(self, form: dict[str, str]) -> str:
        """The message's body: its Body, or its template filled with its variables."""
        if not form.get("ContentSid"):
            return form["Body"]
        variables = json.loads(form.get("ContentVariables") or "{}")
        return re.sub(
            r"\{\{(\d+)\}\}", lambda m: variables[m.group(1)], self.templates[form["ContentSid"]]
        )

    def _message(self, account_sid: str, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        base = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
        return {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": self._filled(form),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form["From"],
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{base}/Media.json"},
            "to": form["To"],
            "uri": f"{base}.json",
        }


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _basic(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


class _Handler(QuietHandler):
    def do_POST(self) -> None:
        emulator: TwilioEmulator = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        auth = self.headers.get("Authorization", "")
        if NUMBER_PATH.match(self.path):
            self._reply(*emulator.update_number(self.path, auth, form))
            return
        self._reply(*emulator.answer(self.path, auth, form))

    def do_GET(self) -> None:
        emulator: TwilioEmulator = self.server.owner  # type: ignore[attr-defined]
        path, _, raw = self.path.partition("?")
        query = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        auth = self.headers.get("Authorization", "")
        if NUMBERS_PATH.match(path):
            self._reply(*emulator.list_numbers(path, auth, query))
            return
        self._reply(*emulator.list_messages(path, auth, query))

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the sender went away (killed while its answer was held)
