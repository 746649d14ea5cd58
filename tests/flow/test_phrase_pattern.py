"""phrase_pattern: a letter tree of phrases, matching where a plain alternation would."""

from __future__ import annotations

import random
import re

import pytest

from intake.flow.text import phrase_pattern, plain


def alternation(phrases: list[str]) -> re.Pattern[str]:
    """The plain form: every phrase a branch of its own (what the tree must agree with)."""
    parts = []
    for phrase in phrases:
        pieces = [
            "[a-z0-9]+"
            if w == "*"
            else re.escape(w.rstrip("*")) + "[a-z0-9]*"
            if w.endswith("*")
            else re.escape(w)
            for w in plain(phrase).split()
        ]
        parts.append(r"\s+".join(pieces))
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])")


def test_it_finds_phrases_inside_a_sentence_on_word_boundaries() -> None:
    pattern = phrase_pattern(["kill myself", "kill me", "overdos*", "end it all"])
    assert pattern is not None
    assert pattern.search("i want to kill myself tonight")
    assert pattern.search("he overdosed last night")
    assert pattern.search("i just want to end   it all")
    assert not pattern.search("skill me up")  # not inside a word
    assert not pattern.search("kill mentions in a book")
    assert not pattern.search("")


def test_a_phrase_that_goes_on_is_tried_before_one_that_ends() -> None:
    pattern = phrase_pattern(["kill", "kill myself", "cut*", "cutting myself"])
    assert pattern is not None
    found = pattern.search("i will kill myself")
    assert found is not None and found.group() == "kill myself"
    found = pattern.search("been cutting myself again")
    assert found is not None and found.group() == "cutting myself"


def test_a_star_alone_is_any_one_word() -> None:
    pattern = phrase_pattern(["beat * to death", "beat my * to death"])
    assert pattern is not None
    assert pattern.search("i will beat him to death")
    assert pattern.search("wants to beat my sponsor to death")
    assert not pattern.search("beat to death")
    assert not pattern.search("beat  to death")  # no empty word between two spaces
    assert not pattern.search("beat my old sponsor to death")
    assert not pattern.search("scared to death")


def test_no_phrases_no_pattern() -> None:
    assert phrase_pattern([]) is None
    assert phrase_pattern(["", "  ", "!!"]) is None


@pytest.mark.parametrize("seed", range(20))
def test_it_matches_where_a_plain_alternation_matches(seed: int) -> None:
    """Random phrases over a small alphabet share many beginnings: the tree must find a match
    at the same first place as one branch per phrase, or none when that finds none."""
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice("abc") for _ in range(rng.randint(1, 3))) + (
            "*" if rng.random() < 0.2 else ""
        )

    def phrase_word() -> str:
        return "*" if rng.random() < 0.1 else word()  # now and then any one word

    phrases = [" ".join(phrase_word() for _ in range(rng.randint(1, 3))) for _ in range(40)]
    tree, plain_form = phrase_pattern(phrases), alternation(phrases)
    assert tree is not None
    for _ in range(200):
        text = " ".join(word().rstrip("*") for _ in range(rng.randint(1, 8)))
        a, b = plain_form.search(text), tree.search(text)
        assert (a is None) == (b is None), (phrases, text)
        if a is not None and b is not None:
            assert a.start() == b.start(), (phrases, text)
