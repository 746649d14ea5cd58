"""POST /sms: a Twilio Messaging webhook in, TwiML <Message>s out."""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, Response, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from ..flow import events as ev
from ..flow.engine import UserInput
from ..flow.text import parse_phone
from ..store import mask
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
    sid = request.form.get("MessageSid", "") or request.form.get("SmsSid", "")
    # No sender at all: nobody to reply to, but crisis words must still reach staff.
    key = contact or f"unknown:{sid or secrets.token_hex(8)}"
    try:
        step = services.conversations.step(
            "sms",
            key,
            contact,
            UserInput(text=request.form.get("Body", "")),
            delivery_id=sid,
            sender=contact,
        )
    except Exception as e:  # never a 500 to Twilio: the person still gets a way to reach us
        log.error("sms from %s failed: %s", mask(contact), describe(e))
        return twiml([services.error_text("sms")])
    if not contact:
        log.warning("sms without a From number: read, but there is nobody to answer")
        return twiml([])
    return twiml([e.text for e in step.events if isinstance(e, (ev.MessageSent, ev.SnippetSent))])
