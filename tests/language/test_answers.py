"""Answers to the callback questions in people's own words."""

from __future__ import annotations

import pytest

from intake.flow.engine import Flow


def words(flow: Flow, text: str, language: str = "en") -> str:
    return flow.language.normaliser.words(text, language)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("yes thats fine", True),
        ("sure go ahead", True),
        ("yeah ok", True),
        ("no problem", True),
        ("i dont mind", True),
        ("sí claro", True),
        ("claro que si", True),
        ("👍", True),
        ("no", False),
        ("nope", False),
        ("no please dont", False),
        ("id rather not", False),
        ("mejor no", False),
        ("no gracias", False),
        ("yes but dont leave a message", None),
        ("banana", None),
    ],
)
def test_it_reads_yes_and_no_in_natural_words(flow: Flow, text: str, expected: bool | None) -> None:
    assert flow.answers.yes_or_no(words(flow, text)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("its for my brother", ("other", "brother")),
        ("for my son", ("other", "son")),
        ("es para mi hijo", ("other", "hijo")),
        ("someone else", ("other", None)),
        ("its for me", ("self", None)),
        ("para mi", ("self", None)),
    ],
)
def test_it_reads_who_the_call_is_for(
    flow: Flow, text: str, expected: tuple[str, str | None]
) -> None:
    assert flow.answers.for_whom(words(flow, text)) == expected


@pytest.mark.parametrize("text", ["me", "yo", "myself"])
def test_it_takes_a_bare_me_only_as_the_answer_to_for_whom(flow: Flow, text: str) -> None:
    assert flow.answers.for_whom(words(flow, text), asked=True) == ("self", None)
    assert flow.answers.for_whom(words(flow, text)) is None


def test_it_does_not_read_can_someone_call_me_as_for_someone_else(flow: Flow) -> None:
    assert flow.answers.for_whom(words(flow, "can someone call me tonight")) is None


@pytest.mark.parametrize(
    ("text", "asked", "expected"),
    [
        ("my name is Jess", False, "Jess"),
        ("my name is jess", False, "Jess"),
        ("my name is Jess can someone call me back", False, "Jess"),
        ("call me Jay", False, "Jay"),
        ("this is Maria Lopez", False, "Maria Lopez"),
        ("me llamo Ana", False, "Ana"),
        ("soy Luis", False, "Luis"),
        ("im scared", False, None),
        ("its fine", False, None),
        ("call me back", False, None),
        ("call me tomorrow", False, None),
        ("soy adicto", False, None),
        ("im sam", True, "Sam"),
    ],
)
def test_it_finds_a_name_said_in_a_sentence(
    flow: Flow, text: str, asked: bool, expected: str | None
) -> None:
    assert flow.answers.name(text, asked=asked) == expected
