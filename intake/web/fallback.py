"""POST /sms/fallback and /voice/fallback: what Twilio asks when our main webhook failed.

They answer from the flow's text alone (no Redis, no session, no engine), so whatever broke
the main route cannot break them: the 988 and 911 lines and the admissions number, then done.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, current_app, request
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from .signature import twilio_signed

log = logging.getLogger(__name__)
bp = Blueprint("fallback", __name__)

# The carriers' opt-out words: never answer them with a text, even an apology.
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
SPEECH_LANGUAGES = {"en": "en-US", "es": "es-US"}


@bp.post("/sms/fallback")
@twilio_signed
def sms_fallback() -> Response:
    services = current_app.extensions["intake"]
    _log("sms")
    response = MessagingResponse()
    word = re.sub(r"[^A-Z]", "", request.form.get("Body", "").upper())
    if word not in OPT_OUT_WORDS:
        response.message(services.error_text("sms"))
    return Response(str(response), mimetype="application/xml")


@bp.post("/voice/fallback")
@twilio_signed
def voice_fallback() -> Response:
    services = current_app.extensions["intake"]
    _log("voice")
    response = VoiceResponse()
    for language in services.flow.spec.languages:  # the caller's language is not known here
        response.say(
            services.error_text("voice", language),
            voice=services.settings.voice_for(language),
            language=SPEECH_LANGUAGES.get(language, "en-US"),
        )
    response.hangup()
    return Response(str(response), mimetype="application/xml")


def _log(channel: str) -> None:
    # Twilio says why it fell back; ErrorUrl is our own URL, never a person's detail.
    code = re.sub(r"[^0-9]", "", request.form.get("ErrorCode", ""))[:6] or "none"
    log.error("%s fallback answered: the main webhook failed (twilio error %s)", channel, code)
