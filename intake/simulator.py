"""Be Twilio for the running app: signed webhook POSTs over real HTTP, TwiML read back as steps.

`intake chat` (text and `--voice`) and the development page at /simulator both drive the app
through this module, so they exercise exactly what Twilio does: the signature is computed with
TWILIO_AUTH_TOKEN over the URL under PUBLIC_BASE_URL, the form fields are Twilio's, the SMS
webhook's cookies are kept per conversation, and a call follows the URLs its TwiML names.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from email.message import Message as HeaderMessage
from http.cookies import CookieError, SimpleCookie
from typing import Any

from twilio.request_validator import RequestValidator

from .flow.segments import is_gsm7, segment_count

API_VERSION = "2010-04-01"
# What Twilio sends as From when a caller hides their number: "ANONYMOUS" on a keypad.
HIDDEN_CALLER_ID = "+266696687"
TIMEOUT = 15  # seconds; Twilio itself gives a webhook 15


class WebhookError(Exception):
    """The app answered with something other than 200, or could not be reached."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Phone:
    """Where the app is and what Twilio knows: the account, its number, the auth token."""

    public_base_url: str  # what signatures cover (PUBLIC_BASE_URL)
    auth_token: str
    account_sid: str
    number: str  # the helpline's Twilio number: To
    target: str = ""  # where to POST when not PUBLIC_BASE_URL itself, e.g. http://127.0.0.1:8000

    def url(self, path_or_url: str) -> str:
        """The absolute URL Twilio would call: a path or relative URL is under PUBLIC_BASE_URL."""
        return urllib.parse.urljoin(self.public_base_url.rstrip("/") + "/", path_or_url)

    def post(
        self, path_or_url: str, params: dict[str, str], cookie: str = ""
    ) -> tuple[str, HeaderMessage]:
        """POST `params` signed for the public URL; the TwiML body and the response headers."""
        signed = self.url(path_or_url)
        base = self.public_base_url.rstrip("/")
        if not signed.startswith(base + "/"):
            raise WebhookError(f"refusing to follow a URL outside {base}")
        where = (self.target.rstrip("/") or base) + signed[len(base) :]
        signature = RequestValidator(self.auth_token).compute_signature(signed, params)
        req = urllib.request.Request(
            where, data=urllib.parse.urlencode(params).encode(), method="POST"
        )
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header("X-Twilio-Signature", signature)
        req.add_header("User-Agent", "TwilioProxy/1.1 (intake simulator)")
        if cookie:
            req.add_header("Cookie", cookie)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                return resp.read().decode(), resp.headers
        except urllib.error.HTTPError as e:
            raise WebhookError(f"the app answered HTTP {e.code}", e.code) from None
        except OSError as e:
            raise WebhookError(f"cannot reach {where}: {e}") from None


# What TwiML says, as plain steps -------------------------------------------------------------


@dataclass
class Said:
    """<Say>: text spoken in a language and voice."""

    text: str
    language: str = ""
    voice: str = ""
    kind: str = "say"


@dataclass
class Gathered:
    """<Gather>: what it says while it listens, and how it listens."""

    action: str
    input: list[str]
    says: list[Said] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    language: str = ""
    num_digits: int | None = None
    finish_on_key: str = "#"
    timeout: int = 5
    action_on_empty_result: bool = False
    kind: str = "gather"


@dataclass
class Dialled:
    """<Dial>: the call is put through to a number; Twilio posts to `action` when it ends."""

    number: str
    action: str = ""
    kind: str = "dial"


@dataclass
class Redirected:
    """<Redirect>: fetch TwiML from another URL."""

    url: str
    kind: str = "redirect"


@dataclass
class HungUp:
    """<Hangup>, or the end of a voice document (Twilio hangs up there too)."""

    kind: str = "hangup"


@dataclass
class Texted:
    """<Message>: a text back, with the segments it costs (GSM-7 160/153, UCS-2 70/67)."""

    text: str
    encoding: str = "GSM-7"
    segments: int = 1
    kind: str = "message"


Step = Said | Gathered | Dialled | Redirected | HungUp | Texted


def texted(text: str) -> Texted:
    return Texted(text, "GSM-7" if is_gsm7(text) else "UCS-2", segment_count(text))


def parse_twiml(xml: str) -> list[Step]:
    """The TwiML document's verbs, in order, as steps (unknown verbs are left out)."""
    root = ET.fromstring(xml)
    steps: list[Step] = []
    for verb in root:
        if verb.tag == "Say":
            steps.append(_said(verb))
        elif verb.tag == "Message":
            body = verb.find("Body")
            steps.append(texted((body.text if body is not None else verb.text) or ""))
        elif verb.tag == "Gather":
            steps.append(
                Gathered(
                    action=verb.get("action", ""),
                    input=(verb.get("input") or "dtmf").split(),
                    says=[_said(s) for s in verb.iter("Say")],
                    hints=[h.strip() for h in (verb.get("hints") or "").split(",") if h.strip()],
                    language=verb.get("language", ""),
                    num_digits=int(verb.get("numDigits", "0")) or None,
                    finish_on_key=verb.get("finishOnKey", "#"),
                    timeout=int(verb.get("timeout", "5")),
                    action_on_empty_result=verb.get("actionOnEmptyResult") == "true",
                )
            )
        elif verb.tag == "Dial":
            number = verb.find("Number")
            steps.append(
                Dialled(
                    (number.text if number is not None else verb.text) or "", verb.get("action", "")
                )
            )
        elif verb.tag == "Redirect":
            steps.append(Redirected((verb.text or "").strip()))
        elif verb.tag == "Hangup":
            steps.append(HungUp())
    return steps


def _said(verb: ET.Element) -> Said:
    return Said(verb.text or "", verb.get("language", ""), verb.get("voice", ""))


def as_dict(step: Step) -> dict[str, Any]:
    """A step as JSON-ready data (the simulator page reads these)."""
    return asdict(step)


# A text conversation -----------------------------------------------------------------------


@dataclass
class Texting:
    """One person texting the helpline, by SMS or on WhatsApp (Twilio posts both to /sms,
    WhatsApp with From and To as "whatsapp:+1..."); keeps the webhook's cookies as Twilio
    does (per From and To, for the conversation)."""

    phone: Phone
    from_number: str
    cookies: dict[str, str] = field(default_factory=dict)
    whatsapp: bool = False
    whatsapp_to: str = ""  # WHATSAPP_FROM, the helpline's WhatsApp sender; else its number

    def send(self, body: str) -> list[Texted]:
        """Text `body`; the replies."""
        sid = "SM" + secrets.token_hex(16)
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.phone.account_sid,
            "MessagingServiceSid": "",
            "From": self.from_number,
            "To": self.phone.number,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(segment_count(body)),
            "ApiVersion": API_VERSION,
            "SmsStatus": "received",
        }
        if self.whatsapp:
            params["From"] = "whatsapp:" + self.from_number
            params["To"] = self.whatsapp_to or "whatsapp:" + self.phone.number
            params["NumSegments"] = "1"
            params["WaId"] = self.from_number.lstrip("+")
            params["ProfileName"] = "Simulator"
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        xml, headers = self.phone.post("/sms", params, cookie)
        self.keep_cookies(headers.get_all("Set-Cookie") or [])
        return [s for s in parse_twiml(xml) if isinstance(s, Texted)]

    def keep_cookies(self, set_cookies: list[str]) -> None:
        """Store what the app set, forget what it expired."""
        for header in set_cookies:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            for name, morsel in jar.items():
                if morsel["max-age"] in ("0", "-1") or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value


# A phone call --------------------------------------------------------------------------------


@dataclass
class Calling:
    """One phone call: starts at /voice and follows the Gathers, Redirects and Dials it is told.

    `waiting` is the Gather listening now (None when nothing listens); `after` holds the verbs
    that come after it, which Twilio runs when a Gather ends with no input and no action.
    """

    phone: Phone
    from_number: str
    sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    url: str = "/voice"  # the document being run, for resolving relative URLs
    waiting: Gathered | None = None
    dialled: Dialled | None = None
    after: list[Step] = field(default_factory=list)
    ended: bool = False

    def params(self, status: str = "in-progress", **extra: str) -> dict[str, str]:
        return {
            "CallSid": self.sid,
            "AccountSid": self.phone.account_sid,
            "From": self.from_number,
            "Caller": self.from_number,
            "To": self.phone.number,
            "Called": self.phone.number,
            "CallStatus": status,
            "Direction": "inbound",
            "ApiVersion": API_VERSION,
        } | extra

    def start(self) -> list[Step]:
        """The call rings: what the app says first."""
        return self.fetch("/voice", self.params("ringing"))

    def press(self, digits: str) -> list[Step]:
        """Keypad digits for the Gather listening now."""
        return self.answer(Digits=digits, FinishedOnKey="")

    def say(self, speech: str, confidence: float = 0.9) -> list[Step]:
        """What the caller says, as Twilio's speech recognition would transcribe it."""
        return self.answer(SpeechResult=speech, Confidence=f"{confidence:.2f}")

    def silence(self) -> list[Step]:
        """The caller says and presses nothing until the Gather times out."""
        gather = self.expect_gather()
        if gather.action_on_empty_result:
            return self.answer()
        self.waiting = None
        return self.run(self.after)

    def dial_ends(self, status: str = "no-answer") -> list[Step]:
        """The transferred call ends (completed, busy, no-answer, failed): Twilio tells `action`."""
        if self.dialled is None or self.ended:
            raise WebhookError("no transfer is under way")
        dialled, self.dialled = self.dialled, None
        if not dialled.action:
            return self.run(self.after)
        return self.fetch(dialled.action, self.params(DialCallStatus=status))

    def answer(self, **extra: str) -> list[Step]:
        gather = self.expect_gather()
        self.waiting = None
        return self.fetch(gather.action or self.url, self.params(**extra))

    def expect_gather(self) -> Gathered:
        if self.ended or self.waiting is None:
            raise WebhookError("nothing is listening: the call has ended")
        return self.waiting

    def fetch(self, url: str, params: dict[str, str]) -> list[Step]:
        """POST to `url` (relative to the current document) and run the TwiML it answers."""
        self.url = self.phone.url(urllib.parse.urljoin(self.phone.url(self.url), url))
        xml, _ = self.phone.post(self.url, params)
        return self.run(parse_twiml(xml))

    def run(self, steps: list[Step]) -> list[Step]:
        """Play steps until one waits for the caller, follows a URL, or ends the call."""
        played: list[Step] = []
        for i, step in enumerate(steps):
            played.append(step)
            if isinstance(step, Gathered):
                self.waiting, self.after = step, steps[i + 1 :]
                return played
            if isinstance(step, Dialled):
                self.dialled, self.after = step, steps[i + 1 :]
                return played
            if isinstance(step, Redirected):
                return played + self.fetch(step.url, self.params())
            if isinstance(step, HungUp):
                break
        if not played or not isinstance(played[-1], HungUp):
            played.append(HungUp())  # the end of the document: Twilio hangs up
        self.ended = True
        return played

    def state(self) -> dict[str, Any]:
        """What it takes to go on with this call later (the simulator page keeps it)."""
        return {
            "sid": self.sid,
            "from": self.from_number,
            "url": self.url,
            "waiting": asdict(self.waiting) if self.waiting else None,
            "dialled": asdict(self.dialled) if self.dialled else None,
            "after": [as_dict(s) for s in self.after],
            "ended": self.ended,
        }

    @classmethod
    def resume(cls, phone: Phone, state: dict[str, Any]) -> Calling:
        """The call `state()` described."""
        waiting = state.get("waiting")
        dialled = state.get("dialled")
        return cls(
            phone,
            str(state["from"]),
            sid=str(state["sid"]),
            url=str(state["url"]),
            waiting=_gathered(waiting) if waiting else None,
            dialled=Dialled(**_fields(dialled)) if dialled else None,
            after=[step_from_dict(s) for s in state.get("after", [])],
            ended=bool(state.get("ended")),
        )


STEP_TYPES: dict[str, type[Any]] = {
    "say": Said,
    "gather": Gathered,
    "dial": Dialled,
    "redirect": Redirected,
    "hangup": HungUp,
    "message": Texted,
}


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "kind"}


def _gathered(data: dict[str, Any]) -> Gathered:
    fields = _fields(data)
    fields["says"] = [Said(**_fields(s)) for s in fields.get("says", [])]
    return Gathered(**fields)


def step_from_dict(data: dict[str, Any]) -> Step:
    """A step from `as_dict`'s data."""
    kind = data.get("kind")
    if kind == "gather":
        return _gathered(data)
    if kind not in STEP_TYPES:
        raise ValueError(f"unknown step {kind!r}")
    step: Step = STEP_TYPES[kind](**_fields(data))
    return step
