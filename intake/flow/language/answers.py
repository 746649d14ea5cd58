"""Answers to the callback questions in people's own words: yes or no, a name, for whom."""

from __future__ import annotations

import re

from ..text import plain
from .normalise import Normaliser

# Words after "call me" or "I'm" that are not a name.
_NOT_NAMES = frozenset(
    """
    back at now asap later tomorrow tonight today please pls when whenever after before around
    in on the a an any anytime soon sometime morning afternoon evening night so not just too
    very really here there fine ok okay good bad sad scared worried tired sick done sorry alone
    lost high using addicted struggling depressed anxious feeling calling texting writing asking
    looking trying going gonna wondering interested ready afraid able about for with from to
    can could will would and but or i im me my here hi hey hello
    mañana manana hoy ahora luego despues antes tarde noche muy bien mal triste solo sola
    adicto adicta enfermo enferma preocupado preocupada de la el que por para en un una
    """.split()
)
_NAME_WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'\-]*")
# Explicit: "my name is Jess", "me llamo Ana", "this is Jess", "soy Ana", "call me Jess".
_EXPLICIT = re.compile(
    r"(?:\bmy\s+name\s+is|\bmy\s+names|\bmy\s+name's|\bname\s+is|\bname's|\bnames|"
    r"\bme\s+llamo|\bmi\s+nombre\s+es|\bthis\s+is|\bit'?s|\bi'?m|\bi\s+am|\bsoy|\bhabla|"
    r"\bcall\s+me|\bask\s+for|\bpregunten\s+por|\bpreguntar\s+por)\s+"
    r"([A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'\-]*(?:\s+[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'\-]*)?)",
    re.IGNORECASE,
)
# Only these introductions are certain enough when the word is written in lower case.
_CERTAIN = re.compile(
    r"^(?:my\s+name|name|me\s+llamo|mi\s+nombre|ask\s+for|pregunt)", re.IGNORECASE
)


class Answers:
    """Yes/no, names and who the call is for, from the flow's vocabulary."""

    def __init__(self, vocab: dict[str, list[str]], normaliser: Normaliser) -> None:
        self.normaliser = normaliser
        self.polarity: dict[str, str] = {}
        for key in ("yes", "no"):
            for phrase in vocab.get(key, []):
                for lang in normaliser.languages:
                    self.polarity[normaliser.expand(phrase, lang)] = key
        self.yes_no = _alternation(self.polarity)
        self.whom: dict[str, str] = {}  # found anywhere: "its for my brother", "for myself"
        self.whom_alone: dict[str, str] = {}  # only as the whole answer: "me", "yo", "other"
        for key in ("self", "other"):
            for phrase in vocab.get(key, []):
                for lang in normaliser.languages:
                    words = normaliser.expand(phrase, lang)
                    self.whom_alone[words] = key
                    if " " in words:  # one word counts only as the whole answer
                        self.whom[words] = key
        self.relations = {
            normaliser.expand(w, lang): w.lower()
            for w in vocab.get("relations", [])
            for lang in normaliser.languages
        }
        self.skip = frozenset(
            normaliser.expand(w, lang)
            for w in vocab.get("skip", [])
            for lang in normaliser.languages
        ) | frozenset(plain(w) for w in vocab.get("skip", []))
        self.whom_pattern = _alternation(self.whom)
        self.relation_pattern = _alternation(self.relations)

    def yes_or_no(self, words: str) -> bool | None:
        """True or False when the words say one and not the other ("yes thats fine")."""
        if self.yes_no is None:
            return None
        said = {self.polarity[m.group()] for m in self.yes_no.finditer(words)}
        if said == {"yes"}:
            return True
        if said == {"no"}:
            return False
        return None

    def for_whom(self, words: str, asked: bool = False) -> tuple[str, str | None] | None:
        """("self" or "other", the relation in their words) when the message says it.

        `asked`: the message answers "for you or someone else?", so a bare "me" counts.
        """
        if asked and words in self.whom_alone:
            return self.whom_alone[words], None
        relation = None
        if self.relation_pattern is not None:
            m = self.relation_pattern.search(words)
            if m is not None:
                relation = self.relations[m.group()]
        said = set()
        if self.whom_pattern is not None:
            said = {self.whom[m.group()] for m in self.whom_pattern.finditer(words)}
        if relation is not None:
            return "other", relation
        if said == {"other"}:
            return "other", None
        if said == {"self"}:
            return "self", None
        return None

    def name(self, text: str, asked: bool = False) -> str | None:
        """A first name the message gives; `asked`: we just asked for one, so less is needed."""
        for m in _EXPLICIT.finditer(text):
            intro = m.group(0)[: m.start(1) - m.start(0)].strip()
            first, *rest = m.group(1).split()
            if first.lower() in _NOT_NAMES:
                continue
            if not _CERTAIN.match(intro) and not asked and not first[0].isupper():
                continue  # "im scared", "its fine": not names
            words = [first]
            if rest and rest[0][0].isupper() and rest[0].lower() not in _NOT_NAMES:
                words.append(rest[0])  # a surname, written as one
            return " ".join(w.strip("'-").capitalize() if w.islower() else w for w in words)
        return None


def _alternation(table: dict[str, str]) -> re.Pattern[str] | None:
    phrases = sorted((p for p in table if p), key=len, reverse=True)  # longest first
    if not phrases:
        return None
    body = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases)
    return re.compile(r"(?<![a-z0-9])(?:" + body + r")(?![a-z0-9])")
