"""POST /voice and the URLs its TwiML points to: engine events out as <Say>, <Gather>, <Dial>."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from twilio.twiml.voice_response import Gather, VoiceResponse

from .. import metrics
from ..conversation import OUTAGE, Step
from ..flow import events as ev
from ..flow.engine import Session, UserInput
from ..flow.text import parse_phone
from . import carry
from .errors import describe
from .signature import twilio_signed

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__)

SPEECH_LANGUAGES = {"en": "en-US", "es": "es-US"}
GATHER_TIMEOUT = 6  # seconds of silence before we re-prompt
NUMBER_ENTRY_TIMEOUT = 10  # typing a phone number takes longer
ANSWERED = {"completed", "answered"}


def caller_number(raw: str) -> str:
    """The caller's E.164 number, or "" when hidden or unusable (Anonymous, Restricted, ...)."""
    return parse_phone(raw) or ""


def xml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="application/xml")


def render(events: list[ev.Event], language: str, token: str = "") -> VoiceResponse:
    """TwiML for the engine's events: what to say, then a Gather, a Dial or a Hangup.

    `token`: the sealed session, put in every callback URL (see carry.py).
    """
    services = current_app.extensions["intake"]
    settings = services.settings
    voice = settings.voice_for(language)
    speech_language = SPEECH_LANGUAGES.get(language, "en-US")
    response = VoiceResponse()
    pending: list[str] = []
    urgent = False  # the crisis message is said in full, never cut short by a key press
    for event in events:
        if isinstance(event, ev.LanguageChanged):
            voice = settings.voice_for(event.language)
            speech_language = SPEECH_LANGUAGES.get(event.language, "en-US")
        elif isinstance(event, ev.CrisisDetected):
            urgent = True
        elif isinstance(event, (ev.PromptSpoken, ev.SnippetSent)):
            if urgent:
                response.say(event.text, voice=voice, language=speech_language)
                urgent = False
            else:
                pending.append(event.text)
        elif isinstance(event, ev.InputRequested):
            gather = gather_for(event, settings.public_base_url, speech_language, token)
            for text in pending:
                gather.say(text, voice=voice, language=speech_language)
            pending = []
            response.append(gather)
        elif isinstance(event, ev.TransferRequested):
            for text in pending:
                response.say(text, voice=voice, language=speech_language)
            pending = []
            response.dial(
                settings.admissions_dial_number,
                action=callback_url(settings.public_base_url, "/voice/dial-status", token),
                method="POST",
                timeout=settings.dial_timeout_seconds,
                answer_on_bridge=True,
            )
        elif isinstance(event, ev.SessionEnded):
            for text in pending:
                response.say(text, voice=voice, language=speech_language)
            pending = []
            response.hangup()
    for text in pending:
        response.say(text, voice=voice, language=speech_language)
    return response


def callback_url(base_url: str, path: str, token: str) -> str:
    """Where Twilio posts next, with the session in the (signed) query string."""
    return f"{base_url}{path}" + (f"?{carry.QUERY}={token}" if token else "")


def gather_for(
    event: ev.InputRequested, base_url: str, speech_language: str, token: str = ""
) -> Gather:
    """A Gather for keys and speech that posts back even when the caller says nothing."""
    attrs: dict[str, object] = {
        "input": "dtmf speech",
        "action": callback_url(base_url, "/voice/input", token),
        "method": "POST",
        "timeout": NUMBER_ENTRY_TIMEOUT if event.finish_on_key else GATHER_TIMEOUT,
        "speech_timeout": "auto",
        "language": speech_language,
        "action_on_empty_result": True,
    }
    if event.num_digits:
        attrs["num_digits"] = event.num_digits
    if event.finish_on_key:
        attrs["finish_on_key"] = event.finish_on_key
    if event.hints:
        attrs["hints"] = ", ".join(event.hints)
    return Gather(**attrs)


def _fail(call_sid: str, error: Exception) -> Response:
    """Never an error tone or dead air: an apology with the admissions number, then goodbye."""
    log.error("voice call %s failed: %s", call_sid[-6:], describe(error))
    services = current_app.extensions["intake"]
    response = VoiceResponse()
    response.say(services.error_text("voice"), voice=services.settings.voice_en, language="en-US")
    response.hangup()
    return xml(response)


def _goodbye() -> Response:
    """Hang up: for a request whose call has no session left to go on with."""
    response = VoiceResponse()
    response.hangup()
    return xml(response)


def _live(call_sid: str) -> bool:
    """Whether Redis still holds this call's session (False when it does not answer)."""
    services = current_app.extensions["intake"]
    try:
        return call_sid != "" and services.store.load_session("voice", call_sid) is not None
    except OUTAGE:
        return False


def _language(session: object) -> str:
    return getattr(session, "language", "en")


def carried(call_sid: str, contact: str) -> Session | None:
    """The session copy in this request's URL, if it is intact and this call's."""
    services = current_app.extensions["intake"]
    return carry.unseal(
        services.keys,
        request.args.get(carry.QUERY, ""),
        call_sid,
        services.flow.id,
        "voice",
        contact,
        services.settings.session_ttl_seconds,
    )


def _step(inp: UserInput | None, fresh: bool = False) -> Response:
    """Move this call's session on by `inp` (None: the call just arrived) and answer in TwiML.

    Each request is processed once per call and step (Twilio's retries included): the step is
    "start" for the call's first request, else the carried session's; a repeat gets the same
    answer and changes nothing.
    """
    services = current_app.extensions["intake"]
    call_sid = request.form.get("CallSid", "")
    contact = caller_number(request.form.get("From", ""))
    try:
        # Calls, not key presses, count against the inbound limit, and only from a number: a
        # hidden caller ID is never refused because someone else hid theirs.
        copy = None if fresh else carried(call_sid, contact)
        if not fresh and copy is None and request.args.get(carry.QUERY) and not _live(call_sid):
            return _goodbye()  # an expired or altered copy, and no session: never start over
        step_id = "start" if fresh else carry.step_id(copy)
        step = services.conversations.step(
            "voice",
            call_sid,
            contact,
            inp,
            delivery_id=f"voice:{call_sid}:{step_id}" if call_sid and step_id else "",
            carried=copy,
            fresh=fresh,
            sender=contact if fresh else "",
        )
        metrics.step_done(step.session)
        return xml(respond(step, call_sid))
    except Exception as e:
        return _fail(call_sid, e)


@bp.post("/voice")
@twilio_signed
def incoming() -> Response:
    """A call arrives: safety first, then the main menu."""
    return _step(None, fresh=True)


@bp.post("/voice/input")
@twilio_signed
def gathered() -> Response:
    """Keys or speech from a Gather, or nothing when the caller stayed silent."""
    digits = request.form.get("Digits", "").strip()
    speech = request.form.get("SpeechResult", "").strip()
    inp = UserInput(
        digits=digits,
        speech=speech,
        timed_out=not digits and not speech,
        confidence=_confidence(request.form.get("Confidence", "")) if speech else None,
    )
    return _step(inp)


def _confidence(raw: str) -> float | None:
    """Twilio's 0-1 confidence in a transcript; None when missing or malformed."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


@bp.post("/voice/dial-status")
@twilio_signed
def dial_status() -> Response:
    """After <Dial>: the call with admissions ended, or nobody picked up."""
    services = current_app.extensions["intake"]
    call_sid = request.form.get("CallSid", "")
    status = request.form.get("DialCallStatus", "")
    try:
        name = "dial_completed" if status in ANSWERED else "dial_failed"
        log.info("voice call %s: admissions transfer %s", call_sid[-6:], status or "unknown")
        copy = carried(call_sid, caller_number(request.form.get("From", "")))
        step = services.conversations.signal(
            "voice",
            call_sid,
            name,
            carried=copy,
            delivery_id=f"voice:{call_sid}:dial:{carry.step_id(copy)}" if call_sid and copy else "",
        )
        if step.session is None:  # the session is gone: end politely rather than in silence
            return _goodbye()
        return xml(respond(step, call_sid))
    except Exception as e:
        return _fail(call_sid, e)


def respond(step: Step, call_sid: str) -> VoiceResponse:
    """Render a step; a transfer request first asks whether admissions is open right now."""
    services = current_app.extensions["intake"]
    events, session = step.events, step.session
    language = _language(session)
    if any(isinstance(e, ev.TransferRequested) for e in events) and session is not None:
        is_open = services.settings.admissions_open(services.conversations.clock())
        log.info(
            "voice call %s: transfer asked, admissions %s",
            call_sid[-6:],
            "open" if is_open else "closed",
        )
        name = "transfer_open" if is_open else "transfer_unavailable"
        if step.duplicate:  # the same answer as the first time, and nothing done again
            signalled = services.conversations.preview_signal(session, name)
        else:
            signalled = services.conversations.signal("voice", call_sid, name, carried=session)
        session = signalled.session or session
        events = [e for e in events if not isinstance(e, ev.TransferRequested)]
        if is_open:
            # The call waits on the Dial, not on keys: a Gather before it would listen, post its
            # empty result (actionOnEmptyResult) and Twilio would never reach the Dial.
            transfer = [e for e in signalled.events if not isinstance(e, ev.InputRequested)]
            events += transfer + [ev.TransferRequested()]
        else:
            events += signalled.events
    return render(events, language, _token(session, call_sid))


def _token(session: Session | None, call_sid: str) -> str:
    if session is None or not call_sid:
        return ""
    return carry.seal(current_app.extensions["intake"].keys, session, call_sid)
