"""Whatever people send, the engine answers: no exception, a known state, texts that fit.

Hypothesis drives whole conversations with a mix of keywords, numbers, free text, emoji and
keypad input, on both channels, and checks what must always hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.flow import engine
from intake.flow import events as ev
from intake.flow.engine import Flow, Trigger, UserInput
from intake.flow.segments import segment_count

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
WORDS = [
    "hi",
    "MENU",
    "CALL",
    "call me",
    "STOP",
    "START",
    "HELP",
    "AYUDA",
    "ESPAÑOL",
    "ENGLISH",
    "OPIOIDS",
    "DUAL",
    "DEPRESION",
    "yes",
    "no",
    "sí",
    "skip",
    "me",
    "other",
    "evening",
    "tomorrow 9am",
    "727-555-0100",
    "(312) 555-0199",
    "12345",
    "+44 20 7946 0958",
    "",
    "   ",
    "{name}",
    "{",
    "%s",
    "<script>",
    "😀" * 30,
    "x" * 500,
    "I want to die",
    "od'd",
]
texts = st.one_of(st.sampled_from(WORDS), st.text(max_size=200))
keys = st.sampled_from(["1", "2", "3", "4", "5", "6", "9", "0", "*", "#", "7275550100", "99"])
sms_steps = st.lists(texts, min_size=1, max_size=25)
voice_steps = st.lists(
    st.one_of(
        keys.map(lambda k: UserInput(digits=k)),
        texts.map(lambda t: UserInput(speech=t)),
        st.just(UserInput(timed_out=True)),
    ),
    min_size=1,
    max_size=25,
)
contacts = st.sampled_from(["+13125550199", "", "Anonymous", "+266696687", "12345"])


def check_events(events: list[ev.Event], channel: str) -> None:
    for event in events:
        if isinstance(event, (ev.MessageSent, ev.SnippetSent, ev.PromptSpoken)):
            assert event.text.strip()
            assert "{admissions" not in event.text and "{program" not in event.text
        if channel == "sms" and isinstance(event, (ev.MessageSent, ev.SnippetSent)):
            assert segment_count(event.text) <= 2, event.text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=sms_steps, contact=contacts)
def test_it_answers_any_sms_conversation(flow: Flow, steps: list[str], contact: str) -> None:
    session, events = engine.start(
        flow, Trigger(channel="sms", contact=contact, now=T0), UserInput(text=steps[0])
    )
    check_events(events, "sms")
    assert events, "the first message always gets an answer"
    for i, text in enumerate(steps[1:], start=1):
        before = session.model_dump()
        given = session
        session, events = engine.resume(
            flow, session, UserInput(text=text), T0 + timedelta(seconds=i)
        )
        assert given.model_dump() == before, "a step changes its own copy, never the caller's"
        assert session.state in flow.spec.states
        assert session.language in flow.spec.languages
        check_events(events, "sms")
        # every message gets an answer (an opt-out gets exactly its one confirmation)
        assert any(isinstance(e, (ev.MessageSent, ev.SnippetSent)) for e in events), text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=voice_steps, contact=contacts)
def test_it_never_leaves_a_caller_in_silence(
    flow: Flow, steps: list[UserInput], contact: str
) -> None:
    session, events = engine.start(flow, Trigger(channel="voice", contact=contact, now=T0))
    for i, inp in enumerate(steps):
        # Every answer either waits for input, transfers, or hangs up: never dead air.
        waits = any(isinstance(e, ev.InputRequested) for e in events)
        ends = any(isinstance(e, (ev.SessionEnded, ev.TransferRequested)) for e in events)
        assert waits or ends, [e.type for e in events]
        check_events(events, "voice")
        if ends:
            return
        session, events = engine.resume(flow, session, inp, T0 + timedelta(seconds=i))
        assert session.state in flow.spec.states
