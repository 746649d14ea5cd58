"""WhatsApp in the engine: the flow SMS follows, with its own formatting and limits (issue 13)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intake.flow import engine
from intake.flow import events as ev
from intake.flow.engine import Flow, Trigger, UserInput
from intake.flow.loader import FlowError, default_params, load_flows
from intake.flow.segments import segment_count
from intake.flow.text import for_channel, parse_phone, split_sender
from tests.flow.test_loader import edit, helpline

ROOT = Path(__file__).resolve().parents[2]
PARAMS = default_params("+17273917001", "Helpline")
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
MARKED = "Reply a topic:\n- *OPIOIDS* (how they work)\n- *CALL* for a call\n5*3 and a - b stay"


def test_whatsapp_keeps_bold_and_list_marks() -> None:
    assert for_channel(MARKED, "whatsapp") == MARKED


@pytest.mark.parametrize("channel", ["sms", "voice"])
def test_sms_and_voice_get_the_words_without_the_marks(channel: str) -> None:
    assert for_channel(MARKED, channel) == (
        "Reply a topic:\nOPIOIDS (how they work)\nCALL for a call\n5*3 and a - b stay"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("whatsapp:+17273917001", ("whatsapp", "+17273917001")),
        ("WhatsApp:+1 727 391 7001", ("whatsapp", "+1 727 391 7001")),
        ("+17273917001", ("sms", "+17273917001")),
        ("client:alice", ("sms", "client:alice")),
    ],
)
def test_a_sender_splits_into_channel_and_address(raw: str, expected: tuple[str, str]) -> None:
    assert split_sender(raw) == expected


def test_phone_parsing_accepts_a_whatsapp_address() -> None:
    assert parse_phone("whatsapp:+17273917001") == "+17273917001"
    assert parse_phone("whatsapp:+1 (727) 391-7001") == "+17273917001"
    assert parse_phone("whatsapp:") is None
    assert parse_phone("whatsapp:+1555") is None


def texts(events: list[ev.Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, (ev.MessageSent, ev.SnippetSent))]


def test_whatsapp_runs_the_sms_flow_with_its_formatting(flow: Flow) -> None:
    session, events = engine.start(flow, Trigger("whatsapp", "+17273917001", NOW), UserInput("hi"))
    sms_session, sms_events = engine.start(
        flow, Trigger("sms", "+17273917001", NOW), UserInput("hi")
    )
    assert session.channel == "whatsapp"
    whatsapp, sms = texts(events), texts(sms_events)
    assert len(whatsapp) == len(sms) >= 2
    assert "*OPIOIDS*" in whatsapp[-1] and "*" not in sms[-1]
    assert [for_channel(t, "sms") for t in whatsapp] == sms
    # The same flow moves on the same way: a topic, then a callback request.
    for said in ("opioids", "CALL", "yes"):
        session, events = engine.resume(flow, session, UserInput(said), NOW)
        sms_session, sms_events = engine.resume(flow, sms_session, UserInput(said), NOW)
        assert session.state == sms_session.state
        assert [for_channel(t, "sms") for t in texts(events)] == texts(sms_events)


def test_a_whatsapp_callback_request_names_its_channel(flow: Flow) -> None:
    session, _ = engine.start(flow, Trigger("whatsapp", "+17273917001", NOW), UserInput("hi"))
    request = engine.callback_request(session, kind="crisis", category="suicide")
    assert request.channel == "whatsapp"
    assert request.callback_number == "+17273917001"


def test_the_segment_limit_counts_the_sms_text_without_marks(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    # 300 characters of words, each bold on WhatsApp: 400 with the marks, 2 segments without.
    text = " ".join(["*word*"] * 60)
    assert segment_count(for_channel(text, "sms")) == 2 < segment_count(text)
    edit(helpline(flows), lambda d: d["states"]["menu"]["prompt"]["sms"].update(en=text))
    load_flows(flows, PARAMS)


def test_a_whatsapp_text_must_stay_short(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    # Fits two segments once the marks are gone, but reads as 500 characters on WhatsApp.
    text = " ".join(["*ab*"] * 100)
    assert segment_count(for_channel(text, "sms")) <= 2
    edit(helpline(flows), lambda d: d["states"]["menu"]["prompt"]["sms"].update(en=text))
    with pytest.raises(FlowError) as info:
        load_flows(flows, PARAMS)
    [problem] = info.value.problems
    assert "menu:prompt.sms.en: WhatsApp text has 499 characters (limit 480)" in problem
