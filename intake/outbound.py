"""The one way out: SMS through Twilio, email through SMTP and signed webhooks to the CRM.

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
from email.message import EmailMessage
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from .config import Settings
from .store import Store, mask

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
UNSUBSCRIBED = 21610  # Twilio: "Attempt to send to unsubscribed recipient"
TIMEOUT_SECONDS = 10.0


class TransportError(Exception):
    """A send that failed; `permanent` means retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class OptedOut(TransportError):
    """The number has opted out: nothing is sent to it."""

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

    def send_sms(self, to: str, body: str) -> str:
        """Text `body` to `to`; returns Twilio's message SID. Raises OptedOut or TransportError."""
        if self.store.is_opted_out(to):
            log.info("sms to %s not sent: the number opted out", mask(to))
            raise OptedOut(f"{mask(to)} opted out")
        client = Client(
            self.settings.twilio_account_sid,
            self.settings.twilio_auth_token,
            http_client=self.http_client,
        )
        try:
            message = client.messages.create(
                to=to, from_=self.settings.twilio_phone_number, body=body
            )
        except (TwilioRestException, TwilioServiceException) as e:
            raise self._twilio_error(to, e.status, e.code) from None
        except requests.RequestException as e:
            log.warning("sms to %s: %s", mask(to), type(e).__name__)
            raise TransportError(f"twilio unreachable: {type(e).__name__}") from None
        log.info("sms to %s accepted by twilio", mask(to))
        return str(message.sid)

    def _twilio_error(self, to: str, status: int, code: int | None) -> TransportError:
        log.warning("sms to %s refused: http %s, twilio error %s", mask(to), status, code)
        if code == UNSUBSCRIBED:
            self.store.opt_out(to)
            return OptedOut(f"twilio error {code}: {mask(to)} has unsubscribed")
        permanent = 400 <= status < 500 and status != 429
        return TransportError(f"twilio http {status}, error {code}", permanent=permanent)

    def send_email(self, to: str, subject: str, body: str) -> None:
        """Email a plain-text message from SMTP_FROM, with STARTTLS and login when configured."""
        s = self.settings
        message = EmailMessage()
        message["From"] = s.smtp_from
        message["To"] = to
        message["Subject"] = subject
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

    def _smtp_error(self, code: int) -> TransportError:
        log.warning("email refused: smtp %s", code)
        return TransportError(f"smtp {code}", permanent=code >= 500)

    def post_webhook(self, url: str, payload: dict[str, Any]) -> int:
        """POST `payload` as signed JSON; returns the HTTP status."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "intake-webhook/1",
            "X-Intake-Timestamp": timestamp,
            "X-Intake-Signature": sign(self.settings.crm_webhook_secret, timestamp, body),
        }
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
            return status
        log.warning("webhook refused: http %s", status)
        temporary = status == 429 or status >= 500
        raise TransportError(f"webhook http {status}", permanent=not temporary)
