"""Crisis language: the curated phrases in flows/safety/crisis.yaml, with the classifier.

A false alarm is acceptable, a miss is not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from intake.flow.engine import Flow
from intake.flow.model import CrisisSpec
from intake.flow.text import plain

CRISIS_FILE = Path(__file__).resolve().parents[2] / "flows" / "safety" / "crisis.yaml"
CATEGORIES = ("suicide", "self_harm", "overdose", "danger")
LANGUAGES = ("en", "es")


@pytest.fixture(scope="module")
def spec() -> CrisisSpec:
    with CRISIS_FILE.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    return CrisisSpec(**data)


class Matcher:
    """The language layer's crisis answer, read as a new message would be."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow

    def category(self, text: str) -> str | None:
        found = self.flow.language.read(text, "en").crisis
        return found[0] if found else None


@pytest.fixture(scope="module")
def matcher(flow: Flow) -> Matcher:
    return Matcher(flow)


POSITIVE = [
    # quoted in the issue that asked for natural crisis language
    "i want it all to end",
    "i dont see the point of living anymore",
    "I just want it all to end",
    # suicide, English
    "i wanna kms",
    "Thinking about SUICIDE!!",
    "I want to kill myself",
    "im going to kill my self tonight",
    "been thinking about killing myself",
    "i just want to kil myself",
    "I feel suicidal",
    "i keep having sucidal thoughts",
    "thinking about sewerslide lol",
    "i want to unalive myself",
    "I want to end my life.",
    "i'm ready to end it all",
    "I want to die 😭😭",
    "i just wanna die",
    "I don't want to live anymore",
    "i dont want to be alive",
    "Everyone would be better off without me",
    "honestly they'd be better off if I was dead... better off dead",
    "there's no reason to live",
    "I have nothing to live for",
    "i can't go on like this",
    "my son said he wants to die",
    "my daughter is talking about taking her own life",
    # suicide, Spanish
    "me quiero matar",
    "Me voy a matar hoy",
    "ya no quiero vivir más",
    "no quiero vivir mas",
    "quiero morirme",
    "Me quiero morir 😢",
    "pienso en el suicidio",
    "mi hijo quiere suicidarse",
    "quiero quitarme la vida",
    "voy a acabar con todo",
    "ya no aguanto mas",
    "no tengo razón para vivir",
    # self-harm
    "I cut myself again",
    "i've been cutting myself",
    "I want to hurt myself",
    "i keep burning myself",
    "struggling with self-harm",
    "my daughter is selfharming",
    "me corté otra vez",
    "quiero hacerme daño",
    "a veces me lastimo a proposito",
    "quiero cortarme las venas",
    # overdose
    "my brother OD'd and he's not breathing",
    "my cousin OD'd",
    "he's ODing",
    "she's OD-ing right now",
    "I think he overdosed",
    "took too many pills",
    "she took a bunch of pills",
    "he isn't breathing!!!",
    "he won't wake up",
    "His lips are blue",
    "she's unresponsive",
    "do you have narcan?",
    "i think it was laced with fentanyl",
    "mi hijo tiene una sobredosis",
    "mi esposo no respira",
    "no se despierta y tiene los labios morados",
    "se tomó todas las pastillas",
    # danger
    "my boyfriend has a gun",
    "he said he's going to kill me",
    "my husband is hitting me",
    "I'm in danger",
    "I don't feel safe at home",
    "he's having a seizure",
    "someone is breaking in",
    "mi esposo me pega",
    "me quiere matar",
    "tiene una pistola",
    "estoy en peligro",
    "mi pareja me amenazó con un cuchillo",
]

# Messages with no crisis at all. ("he is stable now" used to be here: said about someone, it
# follows an emergency often enough that the classifier's low crisis bar flags it, and a false
# alarm is the price we pay for never missing one.)
NEGATIVE = [
    "does fentanyl have side effects",
    "are opioids addictive?",
    "what are the side effects of methadone",
    "tell me about treatment",
    "call me back tomorrow morning",
    "my name is Odette",
    "I'm worried about my son",
    "DEPRESSION",
    "ANXIETY",
    "how do opioids work",
    "good morning",
    "¿Cómo funciona el tratamiento?",
    "quiero información",
    "STOP",
    "yes",
    "no",
    "MENU",
    "CALL",
    "LLAMAR",
    "TREATMENT",
    "DUAL",
    "OPIOIDES",
    "EFECTOS SECUNDARIOS",
    "HELP",
    "I'm dying to know how MAT works",
    "my son has a substance abuse problem",
    "I'm addicted to painkillers",
    "does withdrawal cause panic attacks?",
    "what does slowed breathing mean",
    "what are the odds insurance covers it",
    "My name is Gunnar",
    "can someone call me after 5pm",
    "does insurance cover buprenorphine",
    "I need help for my daughter",
    "Sí, por favor",
    "no gracias",
    "¿Cuáles son los efectos secundarios?",
    "tengo depresión y ansiedad",
    "no estoy seguro",
    "mi hijo usa heroína",
    "prefiero en la tarde",
    "quiero dejar las drogas",
    "no quiero dar mi nombre",
]

# Unambiguous examples and the category they must land in (first match wins).
CATEGORISED = [
    ("I want to kill myself", "suicide"),
    ("me quiero morir", "suicide"),
    ("I cut myself again", "self_harm"),
    ("me estoy cortando", "self_harm"),
    ("my brother OD'd and he's not breathing", "overdose"),
    ("mi hijo tiene una sobredosis", "overdose"),
    ("my boyfriend has a gun", "danger"),
    ("estoy en peligro", "danger"),
]


@pytest.mark.parametrize("text", POSITIVE)
def test_it_flags_crisis_messages(matcher: Matcher, text: str) -> None:
    assert matcher.category(text) is not None, f"missed crisis message: {text!r}"


@pytest.mark.parametrize("text", NEGATIVE)
def test_it_leaves_ordinary_messages_alone(matcher: Matcher, text: str) -> None:
    assert matcher.category(text) is None, f"false alarm on: {text!r}"


@pytest.mark.parametrize(("text", "category"), CATEGORISED)
def test_it_names_the_right_category(matcher: Matcher, text: str, category: str) -> None:
    assert matcher.category(text) == category


def test_it_ignores_empty_and_punctuation_only_messages(matcher: Matcher) -> None:
    assert matcher.category("") is None
    assert matcher.category("?!... 👍") is None


def test_it_has_every_category_in_every_language(spec: CrisisSpec) -> None:
    assert tuple(spec.categories) == CATEGORIES
    for category, by_language in spec.categories.items():
        for language in LANGUAGES:
            assert by_language.get(language), f"{category}: no {language} phrases"


def test_it_has_plenty_of_phrases(spec: CrisisSpec) -> None:
    totals = {
        language: sum(len(by_lang.get(language, [])) for by_lang in spec.categories.values())
        for language in LANGUAGES
    }
    assert totals["en"] >= 40
    assert totals["es"] >= 30


def test_it_writes_phrases_that_survive_normalising(spec: CrisisSpec) -> None:
    for category, by_language in spec.categories.items():
        for language, phrases in by_language.items():
            for phrase in phrases:
                where = f"{category}.{language}: {phrase!r}"
                assert plain(phrase).split(), f"{where} normalises to nothing"
                # `*` only works at the end of a word
                assert all("*" not in w[:-1] for w in phrase.split()), where
