"""Every voice state of every flow, in every language, renders to well-formed, real TwiML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from intake.flow import engine
from intake.flow.engine import Flow, Session
from intake.flow.loader import load_flows
from intake.web.voice import render

# Verbs and attributes from Twilio's TwiML reference (only those we could ever emit are allowed).
ALLOWED: dict[str, set[str]] = {
    "Response": set(),
    "Say": {"voice", "language", "loop"},
    "Gather": {
        "action",
        "method",
        "timeout",
        "speechTimeout",
        "input",
        "numDigits",
        "finishOnKey",
        "language",
        "hints",
        "actionOnEmptyResult",
        "bargeIn",
        "profanityFilter",
        "speechModel",
    },
    "Dial": {"action", "method", "timeout", "callerId", "answerOnBridge", "timeLimit"},
    "Number": set(),
    "Hangup": set(),
    "Redirect": {"method"},
    "Pause": {"length"},
}
CHILDREN = {
    "Response": {"Say", "Gather", "Dial", "Hangup", "Redirect", "Pause"},
    "Gather": {"Say", "Pause"},
    "Dial": {"Number"},
}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def check(twiml: str, where: str) -> ET.Element:
    root = ET.fromstring(twiml)  # well-formed, or this raises
    assert root.tag == "Response", where
    for parent in root.iter():
        assert parent.tag in ALLOWED, f"{where}: unknown verb <{parent.tag}>"
        assert set(parent.attrib) <= ALLOWED[parent.tag], f"{where}: <{parent.tag} {parent.attrib}>"
        for child in parent:
            assert child.tag in CHILDREN.get(parent.tag, set()), (
                f"{where}: <{child.tag}> in <{parent.tag}>"
            )
        if parent.tag == "Say":
            assert (parent.text or "").strip(), f"{where}: empty <Say>"
            assert "{" not in parent.text, f"{where}: unfilled placeholder"
        if parent.tag == "Gather":
            assert parent.get("input") == "dtmf speech", where
    return root


def voice_session(flow: Flow, lang: str, contact: str, state: str, **extra: Any) -> Session:
    """A call in `lang` at `state`, as if the caller had just got there."""
    return Session(
        flow=flow.id,
        channel="voice",
        language=lang,
        contact=contact,
        state=state,
        started_at=NOW,
        updated_at=NOW,
        **extra,
    )


def test_every_state_in_every_language_renders_to_valid_twiml(app: Flask) -> None:
    services = app.extensions["intake"]
    flows = load_flows(services.settings.flows_dir, services.flow.params)
    walked = 0
    with app.test_request_context():
        for flow in flows.values():
            if "voice" not in flow.spec.channels:
                continue
            for lang in flow.spec.languages:
                for contact in ("+13125550199", ""):
                    fields = {
                        "callback_number": "+17275550100",
                        "best_time": "evening",
                        "best_time_window": "evening",
                        "for_whom": "other",
                        "voicemail_ok": True,
                        "text_ok": False,
                    }
                    for state_id in flow.spec.states:
                        session = voice_session(
                            flow, lang, contact, state_id, fields=fields, last_snippet="opioids"
                        )
                        events = engine.prompt_events(flow, session)
                        where = f"{flow.id}:{state_id}:{lang}:{contact or 'hidden'}"
                        root = check(str(render(events, lang)), where)
                        if flow.spec.states[state_id].input.type != "none":
                            assert list(root.iter("Gather")), f"{where}: waits without a Gather"
                        walked += 1
                        # and what a failed attempt says there
                        _, failed = engine.resume(
                            flow, session, engine.UserInput(digits="#9#"), NOW
                        )
                        check(str(render(failed, lang)), where + ":reprompt")
                    for name in flow.spec.signals:
                        session = voice_session(flow, lang, contact, "menu")
                        _, events = engine.signal(flow, session, name, NOW)
                        check(str(render(events, lang)), f"{flow.id}:signal {name}:{lang}")
                    for snippet_id in flow.snippets:  # each snippet, repeated with `*`
                        session = voice_session(
                            flow, lang, contact, "after_snippet", last_snippet=snippet_id
                        )
                        _, events = engine.resume(flow, session, engine.UserInput(digits="*"), NOW)
                        root = check(
                            str(render(events, lang)), f"{flow.id}:snippet {snippet_id}:{lang}"
                        )
                        assert list(root.iter("Gather")), snippet_id
    assert walked == len(flows["helpline"].spec.states) * 2 * 2
