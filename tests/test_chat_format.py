"""`intake chat` wraps the bot's replies at word boundaries to the terminal's width."""

from __future__ import annotations

import io

import pytest

from intake.cli import format_reply, reply_width

WELCOME = (
    "Hi, this is Helpline. We share short facts on opioids, depression and anxiety, and can set "
    "up a call from our admissions team. Reply STOP to opt out."
)


def test_it_wraps_at_word_boundaries_under_the_width() -> None:
    lines = format_reply(WELCOME, 40).splitlines()
    assert lines[0].startswith("bot> Hi, this is Helpline.")
    assert all(len(line) < 40 for line in lines)
    assert all(line.startswith("     ") and line[5] != " " for line in lines[1:])
    assert " ".join(line[5:].strip() for line in lines) == WELCOME  # no word cut or lost


def test_it_keeps_a_link_whole_even_when_longer_than_a_line() -> None:
    link = "https://intake.example.org/staff/tasks/3fa9c2e1b0-with-a-long-tail"
    lines = format_reply(f"Open {link} now", 30).splitlines()
    assert link in [line.strip() for line in lines]


def test_it_keeps_the_replys_own_line_breaks() -> None:
    assert format_reply("one\ntwo", 80) == "bot> one\n     two"


def test_without_a_terminal_each_reply_stays_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdout", io.StringIO())  # a pipe or a file, as scripts read it
    assert reply_width() == 0
    assert format_reply(WELCOME, reply_width()) == "bot> " + WELCOME


def test_on_a_terminal_it_uses_the_terminals_width(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdout", Terminal())
    monkeypatch.setenv("COLUMNS", "52")  # what shutil.get_terminal_size reads first
    assert reply_width() == 52
