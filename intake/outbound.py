"""The one way out: SMS and WhatsApp through Twilio, email through SMTP and signed webhooks
to the CRM.

Every failure becomes a TransportError whose `permanent` says whether trying again can help
(an invalid number, a refused request) or not (a timeout, a 5xx, Twilio's 429). Messages and
logs never carry a full phone number, an address or a body.

Webhooks are signed so the receiver can check they came from us, unchanged and recently:

    X-Intake-Timestamp: <Unix seconds when sent>
    X-Intake-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with CRM_WEBHOOK_SECRET>

The receiver recomputes the HMAC over the raw body bytes exactly as received, compares it in
constant time and refuses timestamps more than five minutes old.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, NamedTuple

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from .config import Settings
from .flow.text import format_phone
from .store import Store, mask

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
UNSUBSCRIBED = 21610  # Twilio: "Attempt to send to unsubscribed recipient"
TIMEOUT_SECONDS = 10.0
# An interrupted send is looked up at Twilio only once it cannot still be in flight...
IN_FLIGHT_MARGIN = 5.0
# ...among our latest messages to that number, created after its intent (clocks may differ).
LOOKUP_LIMIT = 100
CLOCK_MARGIN = 300.0
# WhatsApp takes free-form messages only this long after the person's last message.
WHATSAPP_WINDOW = timedelta(hours=24)


class Sent(NamedTuple):
    """A WhatsApp message Twilio accepted: its SID, and whether it was the free-form text or
    the template (outside the 24-hour window)."""

    sid: str
    kind: str  # "free-form" or "template"


class TransportError(Exception):
    """A send that failed; `permanent` means retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class OptedOut(TransportError):
    """The number has opted out: nothing is sent to it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class DailyLimitReached(TransportError):
    """The number had its OUTBOUND_DAILY_LIMIT_PER_NUMBER texts today: nothing more is sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class OutsideWindow(TransportError):
    """WhatsApp: more than 24 hours since the person last wrote, and no WHATSAPP_TEMPLATE_SID
    to send instead; nothing is sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class RebasedTwilioHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's HTTP client, sending to `base_url` instead of api.twilio.com when they differ."""

    def __init__(self, base_url: str = TWILIO_API, timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self.base_url != TWILIO_API and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, params, data, headers, auth, timeout, allow_redirects)


# What a call to Twilio raises when the network fails, for callers outside this module.
NETWORK_ERRORS = (requests.RequestException,)


def twilio_client(settings: Settings, http_client: HttpClient | None = None) -> Client:
    """The account's Twilio client; every call to Twilio's API is made through one of these."""
    return Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=http_client
        or RebasedTwilioHttpClient(settings.twilio_api_base_url, timeout=TIMEOUT_SECONDS),
    )


def preload() -> None:
    """Import the part of twilio's REST client that sending uses. twilio imports it on first
    use (about 40 ms of CPU, 80 modules); the RQ worker calls this once before it forks a
    process per job, so that no job pays for it again."""
    import twilio.rest.api.v2010.account.message  # noqa: F401


def event_id_for(key: str) -> str:
    """A webhook delivery's event id, the same for every attempt under one idempotency key."""
    return "evt_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Intake-Signature value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class Outbound:
    """Sends for the workers; refuses opted-out numbers and classifies every failure."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        http_client: HttpClient | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.settings = settings
        self.store = store
        self.timeout = timeout
        self.http_client = http_client or RebasedTwilioHttpClient(
            settings.twilio_api_base_url, timeout=timeout
        )

    def send_sms(self, to: str, body: str, key: str = "") -> str:
        """Text `body` to `to`; returns Twilio's message SID.

        Raises OptedOut, DailyLimitReached (see `_count`) or TransportError.

        With an idempotency `key` (a job's id), a second call sends nothing: it returns the SID
        recorded by the first, or, when the first was cut short before recording one, the SID
        of the message Twilio holds from it (see `_already_accepted`).
        """
        if self.store.is_opted_out(to):
            log.info("sms to %s not sent: the number opted out", mask(to))
            raise OptedOut(f"{mask(to)} opted out")
        return self._send(to, "sms", {"body": body}, body, key)

    def send_whatsapp(self, to: str, body: str, key: str = "") -> Sent:
        """Send `body` to `to` (E.164) on WhatsApp, from WHATSAPP_FROM; returns what went.

        Free-form only within 24 hours of the person's last WhatsApp message (WhatsApp's
        rule); outside them the approved WHATSAPP_TEMPLATE_SID (Twilio's Content API:
        ContentSid and ContentVariables {"1": program name, "2": admissions number}) goes
        instead, or, without one, nothing (OutsideWindow). WhatsApp's own opt-out applies, not
        SMS's; the daily limit counts texts to the number on every channel. Raises OptedOut,
        DailyLimitReached, OutsideWindow or TransportError; idempotent under `key` as send_sms.
        """
        s = self.settings
        if self.store.is_opted_out(to, "whatsapp"):
            log.info("whatsapp to %s not sent: the number opted out of whatsapp", mask(to))
            raise OptedOut(f"{mask(to)} opted out of whatsapp")
        if not s.whatsapp_from:
            raise TransportError("WHATSAPP_FROM is not set", permanent=True)
        last = self.store.last_inbound("whatsapp", to)
        if last is not None and datetime.now(UTC) - last < WHATSAPP_WINDOW:
            sid = self._send(to, "whatsapp", {"body": body}, body, key)
            return Sent(sid, "free-form")
        if not s.whatsapp_template_sid:
            log.info("whatsapp to %s not sent: outside the 24-hour window, no template", mask(to))
            raise OutsideWindow(
                f"{mask(to)} last wrote over 24 hours ago and WHATSAPP_TEMPLATE_SID is not set"
            )
        variables = {"1": s.program_name, "2": format_phone(s.admissions_phone)}
        fields = {
            "content_sid": s.whatsapp_template_sid,
            "content_variables": json.dumps(variables, separators=(",", ":")),
        }
        return Sent(self._send(to, "whatsapp", fields, None, key), "template")

    def _send(
        self, to: str, channel: str, fields: dict[str, str], body: str | None, key: str
    ) -> str:
        """One message through Twilio's Messages API; `body` None: a template (any message
        from an interrupted attempt counts as it)."""
        whatsapp = channel == "whatsapp"
        address = f"whatsapp:{to}" if whatsapp else to
        sender = self.settings.whatsapp_from if whatsapp else self.settings.twilio_phone_number
        client = Client(
            self.settings.twilio_account_sid,
            self.settings.twilio_auth_token,
            http_client=self.http_client,
        )
        if key:
            earlier = self._already_accepted(client, address, sender, body, key)
            if earlier:
                return earlier
        self._count(to, key)
        if key:
            self.store.send_intended(key, time.time())
        try:
            message = client.messages.create(to=address, from_=sender, **fields)
        except (TwilioRestException, TwilioServiceException) as e:
            if key:
                self.store.send_refused(key)  # Twilio answered with an error: no message exists
            raise self._twilio_error(to, e.status, e.code, channel) from None
        except requests.RequestException as e:
            log.warning("%s to %s: %s", channel, mask(to), type(e).__name__)
            raise TransportError(f"twilio unreachable: {type(e).__name__}") from None
        log.info("%s to %s accepted by twilio", channel, mask(to))
        if key:
            self.store.send_done(key, str(message.sid))
        return str(message.sid)

    def _count(self, to: str, key: str) -> None:
        """Count a text to `to` today; refuse it past OUTBOUND_DAILY_LIMIT_PER_NUMBER.

        Every text we send passes here, whatever the path. STAFF_NOTIFY_NUMBERS and
        ESCALATION_NUMBERS are neither counted nor refused: they are the center's own phones,
        set by the operator, and a crisis alert must never be dropped. A retry under the same
        idempotency key counts once. The day is the center's (BUSINESS_TIMEZONE).
        """
        s = self.settings
        if to in s.staff_notify_numbers or to in s.escalation_numbers:
            return
        day = datetime.now(s.business_timezone).date().isoformat()
        if not self.store.count_text(to, day, s.outbound_daily_limit_per_number, key):
            log.warning(
                "sms to %s not sent: %d texts today already (OUTBOUND_DAILY_LIMIT_PER_NUMBER)",
                mask(to),
                s.outbound_daily_limit_per_number,
            )
            raise DailyLimitReached(f"{mask(to)} had {s.outbound_daily_limit_per_number} today")

    def _already_accepted(
        self, client: Client, to: str, sender: str, body: str | None, key: str
    ) -> str | None:
        """The SID of a message an earlier attempt under `key` got Twilio to accept, if any.

        An attempt that recorded its intent but no SID was cut short (a crash, a timeout) at a
        point where Twilio may or may not have accepted it. Twilio is asked, once the attempt
        can no longer be in flight: its recent messages from our number to `to` with our body,
        created after the intent (less a margin for clocks).
        """
        intent_at, outcome = self.store.send_record(key)
        if outcome is not None:
            log.info("sms to %s: sent before (%s), not sent again", mask(to), outcome)
            return outcome
        if intent_at is None:
            return None
        age = time.time() - intent_at
        if age < self.timeout + IN_FLIGHT_MARGIN:
            raise TransportError("an earlier attempt may still be in flight")
        since = datetime.fromtimestamp(intent_at - CLOCK_MARGIN, UTC)
        try:
            recent = client.messages.stream(to=to, from_=sender, limit=LOOKUP_LIMIT)
            for message in recent:
                created = message.date_created
                said = body is None or bool(message.body and body in message.body)
                if said and created and created >= since:
                    sid = str(message.sid)
                    log.warning("sms to %s: an interrupted attempt had been accepted", mask(to))
                    self.store.send_done(key, sid)
                    return sid
        except TwilioException as e:  # a refusal, or a page it could not read
            response = e.args[-1] if e.args else None
            status = getattr(e, "status", None) or getattr(response, "status_code", "?")
            log.warning("sms lookup for %s failed: http %s", mask(to), status)
            raise TransportError(f"twilio lookup failed: http {status}") from None
        except requests.RequestException as e:
            log.warning("sms lookup for %s: %s", mask(to), type(e).__name__)
            raise TransportError(f"twilio unreachable: {type(e).__name__}") from None
        log.info("sms to %s: an interrupted attempt had not been accepted; sending", mask(to))
        return None

    def _twilio_error(
        self, to: str, status: int, code: int | None, channel: str = "sms"
    ) -> TransportError:
        log.warning("%s to %s refused: http %s, twilio error %s", channel, mask(to), status, code)
        if code == UNSUBSCRIBED:
            self.store.opt_out(to, channel)
            return OptedOut(f"twilio error {code}: {mask(to)} has unsubscribed")
        permanent = 400 <= status < 500 and status != 429
        return TransportError(f"twilio http {status}, error {code}", permanent=permanent)

    def send_email(self, to: str, subject: str, body: str, key: str = "") -> None:
        """Email a plain-text message from SMTP_FROM, with STARTTLS and login when configured.

        With an idempotency `key`, a second call after a recorded send does nothing; one after
        an interrupted send sends again with the same Message-ID (SMTP cannot be asked what it
        took, and mail clients show one message per Message-ID).
        """
        s = self.settings
        if key and self.store.send_record(key)[1] is not None:
            log.info("email sent before, not sent again")
            return
        message = EmailMessage()
        message["From"] = s.smtp_from
        message["To"] = to
        message["Subject"] = subject
        if key:
            domain = s.smtp_from.rpartition("@")[2] or "intake"
            message["Message-ID"] = f"<{key}@{domain}>"
            self.store.send_intended(key, time.time())
        message.set_content(body)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            raise self._smtp_error(min(codes) if codes else 550) from None
        except smtplib.SMTPResponseException as e:
            raise self._smtp_error(e.smtp_code) from None
        except smtplib.SMTPNotSupportedError:
            raise TransportError("smtp server does not offer STARTTLS or AUTH", True) from None
        except (smtplib.SMTPException, OSError) as e:
            log.warning("email: %s", type(e).__name__)
            raise TransportError(f"smtp unreachable: {type(e).__name__}") from None
        log.info("email sent")
        if key:
            self.store.send_done(key, "sent")

    def _smtp_error(self, code: int) -> TransportError:
        log.warning("email refused: smtp %s", code)
        return TransportError(f"smtp {code}", permanent=code >= 500)

    def post_webhook(self, url: str, payload: dict[str, Any], key: str = "") -> int:
        """POST `payload` as signed JSON with its event id; returns the HTTP status.

        The event id is in the body (`event_id`) and in `X-Intake-Event-Id` and
        `Idempotency-Key`: with an idempotency `key` (a job's id) it is the same on every
        attempt, so the receiver can drop repeats, and a second call after an accepted POST
        does nothing. Without one, each call is a new event.
        """
        if key:
            _, outcome = self.store.send_record(key)
            if outcome is not None:
                log.info("webhook accepted before, not posted again")
                return int(outcome)
        event_id = event_id_for(key) if key else "evt_" + uuid.uuid4().hex
        body = json.dumps(
            {**payload, "event_id": event_id}, separators=(",", ":"), sort_keys=True
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "intake-webhook/1",
            "X-Intake-Timestamp": timestamp,
            "X-Intake-Signature": sign(self.settings.crm_webhook_secret, timestamp, body),
            "X-Intake-Event-Id": event_id,
            "Idempotency-Key": event_id,
        }
        if key:
            self.store.send_intended(key, time.time())
        try:
            response = requests.post(
                url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as e:
            log.warning("webhook: %s", type(e).__name__)
            raise TransportError(f"webhook unreachable: {type(e).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            log.info("webhook accepted: http %s", status)
            if key:
                self.store.send_done(key, str(status))
            return status
        log.warning("webhook refused: http %s", status)
        temporary = status == 429 or status >= 500
        raise TransportError(f"webhook http {status}", permanent=not temporary)
