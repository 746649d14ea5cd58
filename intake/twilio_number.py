"""Point the Twilio number's webhooks at PUBLIC_BASE_URL (`intake twilio configure`).

Its Twilio client comes from outbound.py, the one way out, with the same HTTP client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient

from .config import Settings
from .outbound import NETWORK_ERRORS, Client, twilio_client

# Set on the number, these win over its URLs; Twilio's schema allows no empty value to clear
# them, so a person removes them in the console.
OVERRIDES = {
    "sms_application_sid": "a TwiML App for messaging",
    "voice_application_sid": "a TwiML App for voice",
    "trunk_sid": "a SIP trunk",
}


class NumberSetupError(Exception):
    """Why the number cannot be configured, in one line."""


@dataclass(frozen=True)
class NumberSetup:
    sid: str
    phone_number: str
    changes: dict[str, tuple[str, str]]  # field -> (old, new); empty when already right


def wanted(public_base_url: str) -> dict[str, str]:
    """The webhook settings the app needs: its routes, by POST (the app has no StatusCallback)."""
    base = public_base_url.rstrip("/")
    return {
        "sms_url": f"{base}/sms",
        "sms_method": "POST",
        "sms_fallback_url": f"{base}/sms/fallback",
        "sms_fallback_method": "POST",
        "voice_url": f"{base}/voice",
        "voice_method": "POST",
        "voice_fallback_url": f"{base}/voice/fallback",
        "voice_fallback_method": "POST",
    }


def whatsapp_steps(settings: Settings) -> list[str]:
    """What to set by hand for WHATSAPP_FROM: Twilio's API does not configure a WhatsApp
    sender's webhooks (the console, or the sandbox's settings page, does)."""
    if not settings.whatsapp_from:
        return []
    base = settings.public_base_url.rstrip("/")
    return [
        f"WhatsApp ({settings.whatsapp_from}, WHATSAPP_FROM) cannot be set through the API; "
        "in the Twilio console",
        "  (Messaging > Senders > WhatsApp senders > the sender, or for the sandbox",
        "  Messaging > Try it out > Send a WhatsApp message > Sandbox settings) set:",
        f"  When a message comes in: {base}/sms (HTTP POST)",
        f"  Fallback URL: {base}/sms/fallback (HTTP POST)",
        "  Status callback URL: leave empty",
        "  Its messages then reach the same flow as texts; free-form messages to a person go",
        "  only within 24 hours of their last one, else WHATSAPP_TEMPLATE_SID (an approved",
        "  Content API template, Messaging > Content Template Builder) or nothing.",
    ]


def configure_number(settings: Settings, http_client: HttpClient | None = None) -> NumberSetup:
    """Find TWILIO_PHONE_NUMBER in the account and update what differs; raises NumberSetupError."""
    if not settings.public_base_url.startswith("https://"):
        raise NumberSetupError(
            f"PUBLIC_BASE_URL must be https for Twilio webhooks, got {settings.public_base_url}"
        )
    client = twilio_client(settings, http_client)
    phone = settings.twilio_phone_number
    try:
        found = [
            n
            for n in client.incoming_phone_numbers.list(phone_number=phone)
            if n.phone_number == phone
        ]
        if not found:
            raise NumberSetupError(
                f"{phone} (TWILIO_PHONE_NUMBER) is not a number of Twilio account "
                f"{settings.twilio_account_sid}"
            )
        number = found[0]
        for field, what in OVERRIDES.items():
            if getattr(number, field, None):
                raise NumberSetupError(
                    f"{phone} uses {what} ({field} {getattr(number, field)}), which wins over "
                    "webhook URLs: remove it in the Twilio console, then run this again"
                )
        want = wanted(settings.public_base_url)
        changes = {
            field: (getattr(number, field) or "", value)
            for field, value in want.items()
            if (getattr(number, field) or "") != value
        }
        if changes:
            update_number(client, number.sid, {f: new for f, (_, new) in changes.items()})
    except TwilioException as e:  # a refused update, or a list page it could not fetch
        raise NumberSetupError(_refusal(e)) from None
    except NETWORK_ERRORS as e:
        raise NumberSetupError(f"Twilio is unreachable: {type(e).__name__}") from None
    return NumberSetup(sid=number.sid, phone_number=phone, changes=changes)


def _refusal(e: TwilioException) -> str:
    response = e.args[-1] if e.args else None  # list(): ("Unable to fetch page", response)
    status = getattr(e, "status", None) or getattr(response, "status_code", None)
    code = getattr(e, "code", None)
    if code is None and response is not None:
        try:
            code = json.loads(response.text).get("code")
        except (ValueError, AttributeError):
            pass
    if status is None:
        return f"Twilio's answer could not be read: {type(e).__name__}"
    return f"Twilio refused: http {status}, error {code}"


def update_number(client: Client, sid: str, values: dict[str, str]) -> None:
    """POST the changed fields to the number (IncomingPhoneNumbers/{sid}.json)."""
    client.incoming_phone_numbers(sid).update(**values)
