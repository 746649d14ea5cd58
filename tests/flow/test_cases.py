"""Flow cases as data: tests/flow/cases/*.yaml, each a conversation and the events it must give."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from intake.flow import engine
from intake.flow.engine import Flow, Session, Trigger, UserInput

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 3 a.m.: people write at night


def load_cases() -> list[Any]:
    params = []
    for path in CASES:
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            params.append(pytest.param(case, id=f"{path.stem}: {case['description']}"))
    return params


def event_dict(event: engine.ev.Event) -> dict[str, Any]:
    data = asdict(event)
    data["type"] = event.type
    return data


def check_event(expected: dict[str, Any], actual: dict[str, Any], where: str) -> None:
    assert actual["type"] == expected["type"], f"{where}: {actual}"
    for key, want in expected.items():
        if key == "type":
            continue
        if key == "contains":
            for piece in [want] if isinstance(want, str) else want:
                assert piece in actual["text"], f"{where}: {piece!r} not in {actual['text']!r}"
        elif key == "not_contains":
            for piece in [want] if isinstance(want, str) else want:
                assert piece not in actual["text"], f"{where}: {piece!r} in {actual['text']!r}"
        elif key == "request":
            for field, value in want.items():
                got = actual["request"][field]
                got = list(got) if isinstance(got, tuple) else got
                assert got == value, f"{where}: request.{field} = {got!r}, want {value!r}"
        else:
            assert actual[key] == want, f"{where}: {key} = {actual[key]!r}, want {want!r}"


def user_input(step: dict[str, Any]) -> UserInput:
    return UserInput(
        text=str(step.get("send", "")),
        digits=str(step.get("press", "")),
        speech=str(step.get("say", "")),
        timed_out=bool(step.get("timeout", False)),
        confidence=step.get("confidence"),
    )


@pytest.mark.parametrize("case", load_cases())
def test_it_follows_the_case(flow: Flow, case: dict[str, Any]) -> None:
    channel = case.get("channel", "sms")
    contact = case.get("contact", "+13125550199")
    session: Session | None = None
    now = T0
    for i, step in enumerate(case["steps"]):
        where = f"step {i + 1} ({step})"
        now += timedelta(seconds=30)
        inp = None if step.get("open") else user_input(step)
        if session is None:
            trigger = Trigger(
                channel=channel,
                contact=contact,
                now=now,
                language=case.get("language"),
                returning=case.get("returning", False),
            )
            session, events = engine.start(flow, trigger, inp)
        else:
            assert inp is not None
            session, events = engine.resume(flow, session, inp, now)
        actual = [event_dict(e) for e in events]
        if "input_requested" not in [e["type"] for e in step.get("expect", [])]:
            actual = [e for e in actual if e["type"] != "input_requested"]
        if "expect" in step:
            types = [e["type"] for e in actual]
            assert types == [e["type"] for e in step["expect"]], f"{where}: got {types}"
            for expected, got in zip(step["expect"], actual, strict=True):
                check_event(expected, got, where)
        if "state" in step:
            assert session.state == step["state"], where
        if "language" in step:
            assert session.language == step["language"], where
        if "fields" in step:
            for field, value in step["fields"].items():
                assert session.fields.get(field) == value, f"{where}: field {field}"
        if "topics" in step:
            assert session.topics == step["topics"], where
