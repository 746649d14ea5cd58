"""POST /sms: a Twilio Messaging webhook in, TwiML <Message>s out; SMS and WhatsApp alike
(Twilio sends WhatsApp messages here with From "whatsapp:+1...": the channel)."""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, Response, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from .. import metrics
from ..conversation import Step
from ..flow import events as ev
from ..flow.engine import Session, UserInput
from ..flow.model import Medium
from ..flow.text import parse_phone, split_sender
from ..store import mask
from . import carry
from .errors import describe
from .signature import twilio_signed

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


def twiml(messages: list[str]) -> Response:
    response = MessagingResponse()
    for text in messages:
        response.message(text)
    return Response(str(response), mimetype="application/xml")


@bp.post("/sms")
@twilio_signed
def inbound() -> Response:
    services = current_app.extensions["intake"]
    raw_from = request.form.get("From", "").strip()
    # The sender keys the session and opt-outs; only a valid number is ever called back
    # (Conversations.enqueue_task), and the flow asks anyone else for one.
    contact = parse_phone(raw_from) or raw_from
    channel: Medium = "whatsapp" if split_sender(raw_from)[0] == "whatsapp" else "sms"
    sid = request.form.get("MessageSid", "") or request.form.get("SmsSid", "")
    # No sender at all: nobody to reply to, but crisis words must still reach staff.
    key = contact or f"unknown:{sid or secrets.token_hex(8)}"
    secure = over_https()
    try:
        step = services.conversations.step(
            channel,
            key,
            contact,
            UserInput(text=request.form.get("Body", "")),
            delivery_id=sid,
            carried=carried(contact, channel) if secure and contact else None,
            sender=contact,
        )
    except Exception as e:  # never a 500 to Twilio: the person still gets a way to reach us
        log.error("%s from %s failed: %s", channel, mask(contact), describe(e))
        return twiml([services.error_text("sms")])
    metrics.step_done(step.session)
    if not contact:
        log.warning("sms without a From number: read, but there is nobody to answer")
        return twiml([])
    response = twiml(
        [e.text for e in step.events if isinstance(e, (ev.MessageSent, ev.SnippetSent))]
    )
    if secure and not step.duplicate and not step.limited:
        mirror(response, step, contact, channel)
    return response


def over_https() -> bool:
    """Twilio reached us over TLS: it signed an https URL, or the request (or a trusted proxy,
    with TRUSTED_PROXIES) says https. Only then is the session cookie set or believed."""
    base = current_app.extensions["intake"].settings.public_base_url
    return base.startswith("https://") or request.is_secure


def bound(contact: str, channel: Medium) -> str:
    """What a cookie's copy is bound to: an SMS copy never resumes a WhatsApp chat."""
    return contact if channel == "sms" else f"{channel}:{contact}"


def carried(contact: str, channel: Medium = "sms") -> Session | None:
    """The session copy in Twilio's cookie for this number, if intact and recent enough."""
    services = current_app.extensions["intake"]
    return carry.unseal(
        services.keys,
        request.cookies.get(carry.COOKIE, ""),
        bound(contact, channel),
        services.flow.id,
        channel,
        contact,
        services.settings.session_ttl_seconds,
    )


def mirror(response: Response, step: Step, contact: str, channel: Medium = "sms") -> None:
    """Keep the session's copy in Twilio's cookie jar; drop it when the conversation ended."""
    services = current_app.extensions["intake"]
    if step.session is None or step.ended:
        response.delete_cookie(carry.COOKIE, path="/sms", secure=True, httponly=True)
        return
    response.set_cookie(
        carry.COOKIE,
        carry.seal(services.keys, step.session, bound(contact, channel)),
        max_age=min(carry.COOKIE_MAX_AGE, services.settings.session_ttl_seconds),
        path="/sms",
        secure=True,
        httponly=True,
    )
