"""Keywords (the whole message) and phrases (inside a sentence) for each intent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import CrisisSpec, LanguageSpec
from ..text import phrase_pattern, plain
from .normalise import Normaliser

# a negation does not reach past a word that starts another clause ("if he hears..."), nor past
# one that ends the negated thought ("no estoy bien, me quiere matar", "not safe, hes got a gun"),
# nor past one that says it is meant ("no, actually not jk, gonna hurt him", "no miento")
_STARTS = "if|si|when|cuando|because|porque"
_ENDS = "fine|ok|okay|alright|good|well|safe|bien|seguro|segura"
_MEANT = "joking|kidding|jk|lying|bromeando|miento"
_STARTS_CLAUSE = re.compile(rf"(?:{_STARTS})\b")


@dataclass(frozen=True)
class Match:
    """An intent a rule found: which language's words, and how many words matched."""

    intent: str
    language: str
    words: int


@dataclass(frozen=True)
class _PhraseRule:
    intent: str
    language: str
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None


class Rules:
    """Every intent's keywords and phrases, normalised the way messages are."""

    def __init__(self, spec: LanguageSpec, crisis: CrisisSpec, normaliser: Normaliser) -> None:
        self.keywords: dict[str, list[tuple[str, str]]] = {}
        self.phrases: list[_PhraseRule] = []
        self.together: list[tuple[str, str, re.Pattern[str], frozenset[str]]] = []
        self.guess_with: dict[str, re.Pattern[str]] = {}
        # Crisis phrases are tried on the plain text as curated, and on the expanded text.
        self.crisis_plain: list[tuple[str, str, re.Pattern[str]]] = []
        self.crisis_words: list[tuple[str, str, re.Pattern[str]]] = []
        self.mention_plain: list[tuple[str, str, re.Pattern[str]]] = []
        self.mention_words: list[tuple[str, str, re.Pattern[str]]] = []
        for intent, words in spec.intents.items():
            for lang, keywords in words.keywords.items():
                for keyword in keywords:
                    key = normaliser.expand(keyword, lang)
                    self.keywords.setdefault(key, [])
                    if (intent, lang) not in self.keywords[key]:
                        self.keywords[key].append((intent, lang))
            guard_pattern = phrase_pattern(_expand_all(normaliser, words.guess_with))
            if guard_pattern is not None:
                self.guess_with[intent] = guard_pattern
            for lang, phrases in words.together.items():
                pattern = phrase_pattern([normaliser.expand(p, lang) for p in phrases])
                if pattern is not None:
                    self.together.append((intent, lang, pattern, frozenset(words.together_with)))
            for lang, phrases in words.phrases.items():
                pattern = phrase_pattern([normaliser.expand(p, lang) for p in phrases])
                if pattern is None:
                    continue
                unless = words.unless.get(lang, [])
                guard = (
                    re.compile(
                        r"(?:^|\s)(?:"
                        + "|".join(re.escape(normaliser.expand(u, lang)) for u in unless)
                        + r")\s*$"
                    )
                    if unless
                    else None
                )
                self.phrases.append(_PhraseRule(intent, lang, pattern, guard))
        negations = _expand_all(normaliser, crisis.negations)
        negations += [plain(n) for ns in crisis.negations.values() for n in ns]
        # a negation up to three words before the phrase: "im not going to hurt myself", but
        # not across "but" or into another clause: "im not suicidal but i burned myself",
        # "text me, not call. if he hears the phone...", "im fine. not fine. hes listening";
        # and not one that says it goes on: "i can not stop cutting", "no puedo dejar de cortarme",
        # nor a doubt that anyone could stop it: "i dont think anyone can talk me out of it", "no
        # creo que nadie me convenza", nor not caring: "i dont care if i die", nor saying it is
        # meant ("not joking, im going to hurt him", "no es broma"); nor past "i",
        # which starts a thought of its own: "heres no humor: i want to die"
        self.negation = (
            re.compile(
                r"(?:^|\s)(?:"
                + _alternation(negations)
                + r")(?!\s+(?:stop|quit|(?:puedo|puede|podia|pude|puedes) (?:dejar|parar)"
                + r"|(?:dejo|deja|paro) de|(?:think|believe) (?:anyone|anybody|any one)"
                + r"|care (?:if|whether)|creo que nadie|me importa si"
                + rf"|{_MEANT}|playing|(?:estoy )?jugando|es (?:broma|juego))\b)"
                + rf"(?:\s+(?!(?:but|pero|and|y|just|solo|i|{_STARTS}|{_ENDS}|{_MEANT})\b)\S+)"
                + r"{0,3}\s*$"
            )
            if negations
            else None
        )
        # a phrase with its own negation ("no puedo respirar", "not breathing") is not undone
        # by an earlier one, which belongs to another thought: "no paro, ahora no puedo respirar"
        self.negated_phrase = (
            re.compile(r"(?:" + _alternation(negations) + r")\b") if negations else None
        )
        # a plain denial: the negation, then only words like "going to" before the phrase
        fillers = _expand_all(normaliser, crisis.denial_words)
        denials = _expand_all(normaliser, crisis.denial_negations)
        self.denial = (
            re.compile(
                r"(?:^|\s)(?:"
                + _alternation(denials)
                + r")(?:\s+(?:"
                + _alternation(fillers)
                + r")){0,4}\s*$"
            )
            if denials and fillers
            else None
        )
        self.hedge = phrase_pattern(_expand_all(normaliser, crisis.hedges))
        self.hedge_near = phrase_pattern(_expand_all(normaliser, crisis.hedges_near))
        self.present = phrase_pattern(_expand_all(normaliser, crisis.present))
        self.calm: dict[str, re.Pattern[str]] = {}
        # any calm phrase at all: most messages have none, and one search tells
        self.any_calm = phrase_pattern(
            [
                normaliser.expand(c, lang)
                for by in crisis.calm.values()
                for lang, cs in by.items()
                for c in cs
            ]
            + [plain(c) for by in crisis.calm.values() for cs in by.values() for c in cs]
        )
        for category, by_language in crisis.calm.items():
            pattern = phrase_pattern(
                _expand_all(normaliser, by_language)
                + [plain(c) for cs in by_language.values() for c in cs]
            )
            if pattern is not None:
                self.calm[category] = pattern
        # "on purpose": the stove or the iron was the means, not the accident
        self.deliberate = phrase_pattern(
            _expand_all(normaliser, crisis.deliberate)
            + [plain(d) for ds in crisis.deliberate.values() for d in ds]
        )
        # a negation just before a calm phrase undoes it: "not joking", "no es broma",
        # "im not in a good place", "not on purpose"
        self.calm_negation = re.compile(
            r"(?:^|\s)(?:not|no|isnt|aint|never|nunca|ni|nada|dont)(?:\s+\S+)?\s*$"
        )
        self.context = phrase_pattern(_expand_all(normaliser, crisis.context))
        # every crisis phrase and mention as written and as expanded, once: each category and
        # language gets its own pattern, and all of them one more
        every_plain: list[str] = []
        every_expanded: list[str] = []
        for table, raws, expandeds in (
            (crisis.categories, self.crisis_plain, self.crisis_words),
            (crisis.mentions, self.mention_plain, self.mention_words),
        ):
            for category, by_language in table.items():
                for lang, phrases in by_language.items():
                    raw_phrases = [plain(p) for p in phrases]
                    expanded_phrases = [normaliser.expand(p, lang) for p in phrases]
                    every_plain += raw_phrases
                    every_expanded += expanded_phrases
                    raw = phrase_pattern(raw_phrases)
                    expanded = phrase_pattern(expanded_phrases)
                    if raw is not None:
                        raws.append((category, lang, raw))
                    if expanded is not None:
                        expandeds.append((category, lang, expanded))
        # any crisis phrase or mention at all: most messages have none, and two searches tell
        # (a pattern per category and language is a dozen or more)
        self.any_plain = phrase_pattern(every_plain)
        self.any_words = phrase_pattern(every_expanded)

    def keyword(self, words: str, prefer: str) -> tuple[str, str] | None:
        """(intent, language) when the whole message is a keyword; `prefer`'s words first."""
        found = self.keywords.get(words)
        if not found and " " in words:  # "stop stop stop", "menu menu"
            tokens = words.split()
            deduped = " ".join(t for i, t in enumerate(tokens) if i == 0 or t != tokens[i - 1])
            found = self.keywords.get(deduped)
        if not found:
            return None
        for intent, lang in found:
            if lang == prefer:
                return intent, lang
        return found[0]

    def may_guess(self, intent: str, words: str) -> bool:
        """Whether a rules-only intent may be guessed: its `guess_with` words are there and
        none of its phrases was cancelled by an `unless` ("dont stop texting me")."""
        pattern = self.guess_with.get(intent)
        return bool(pattern and pattern.search(words)) and intent not in self.find(words)[1]

    def find(self, words: str) -> tuple[list[Match], set[str]]:
        """Every intent with a phrase inside the message (longest phrase per intent), and the
        intents whose phrase an `unless` cancelled ("please dont call me")."""
        best: dict[str, Match] = {}
        cancelled: set[str] = set()
        for rule in self.phrases:
            for m in rule.pattern.finditer(words):
                if rule.unless is not None and rule.unless.search(words[: m.start()]):
                    cancelled.add(rule.intent)
                    continue
                n = m.group().count(" ") + 1
                old = best.get(rule.intent)
                if old is None or n > old.words:
                    best[rule.intent] = Match(rule.intent, rule.language, n)
        for intent, lang, pattern, partners in self.together:
            if partners & set(best) and pattern.search(words):
                best[intent] = Match(intent, lang, 3)  # both at once: stronger than either
        return list(best.values()), cancelled

    def crisis(
        self, plain_text: str, expanded: str, words: str, prefer: str, calm: set[str]
    ) -> tuple[tuple[str, str] | None, tuple[str, str] | None, str]:
        """(sure, mention, doubt): the first crisis phrase found, or the first mention.

        `calm`: the categories (or "all") whose calm context the message has.

        A crisis phrase right after a negation ("im not suicidal") or in a calm context
        ("suicide prevention month") is a doubted mention; one found only once typos were
        corrected ("contarle" is one letter from "cortarme") a plain mention. Either way the
        classifier decides, with a higher bar for doubted ones: `doubt` says why ("negated",
        "calm" or "").
        """
        if not self._any_crisis_words(plain_text, expanded, words):
            return None, None, "calm" if "all" in calm else ""  # what the search below ends in
        doubted: tuple[str, str] | None = None
        doubt = ""
        for text, rules in ((plain_text, self.crisis_plain), (expanded, self.crisis_words)):
            for category, lang, pattern in sorted(rules, key=lambda r: r[1] != prefer):
                m = pattern.search(text) if text else None
                if m is None:
                    continue
                negated = (
                    self.negation is not None
                    and self.negation.search(text[: m.start()])
                    and not _STARTS_CLAUSE.match(m.group())
                    and not (self.negated_phrase and self.negated_phrase.match(m.group()))
                )
                if negated or "all" in calm or category in calm:
                    doubted = doubted or (category, lang)
                    doubt = "calm" if doubt == "calm" or not negated else "negated"
                else:
                    return (category, lang), None, ""
        if doubted is not None:
            return None, doubted, doubt
        if words != expanded:
            for category, lang, pattern in sorted(self.crisis_words, key=lambda r: r[1] != prefer):
                if pattern.search(words):
                    return None, (category, lang), ""
        for text, rules in ((plain_text, self.mention_plain), (words, self.mention_words)):
            for category, lang, pattern in sorted(rules, key=lambda r: r[1] != prefer):
                if text and pattern.search(text):
                    return None, (category, lang), "calm" if calm else ""
        return None, None, "calm" if "all" in calm else ""  # the classifier alone needs more

    def denied(self, plain_text: str, words: str) -> str | None:
        """The message without its crisis phrases when it plainly denies every one of them and
        nothing hedges the denial ("i would never kill myself, my faith keeps me going" ->
        "i would my faith keeps me going"); None otherwise ("im not gonna... probably")."""
        if self.hedge is not None and self.hedge.search(words):
            return None
        spans = self._denials(plain_text, words)
        if not spans or self._for_now(words, spans):
            return None
        kept = []
        cut = 0
        for start, end in spans:
            kept.append(words[cut:start])
            cut = end
        kept.append(words[cut:])
        return " ".join(" ".join(kept).split())

    def hedged(self, plain_text: str, words: str) -> bool:
        """Whether something in the message makes a denial uncertain ("probably", "but"), or
        says it holds for now only ("not tonight", "hoy no")."""
        if self.hedge is not None and self.hedge.search(words):
            return True
        if self.hedge_near is None or not self.hedge_near.search(words):
            return False  # most messages: no need to look for the denials
        return self._for_now(words, self._denials(plain_text, words))

    def _for_now(self, words: str, spans: list[tuple[int, int]]) -> bool:
        """Whether "tonight", "hoy" and the like stand right beside a denial."""
        if self.hedge_near is None:
            return False
        for start, end in spans:
            near = " ".join(words[:start].split()[-1:] + words[end:].split()[:3])
            if self.hedge_near.search(near):
                return True
        return False

    def _denials(self, plain_text: str, words: str) -> list[tuple[int, int]]:
        """Where in `words` each crisis phrase is denied, from its negation to its end; none
        when a crisis phrase is not denied at all."""
        if self.denial is None:
            return []
        spans: list[tuple[int, int]] = []
        for text, rules in (
            (plain_text, self.crisis_plain + self.mention_plain),
            (words, self.crisis_words + self.mention_words),
        ):
            for _category, _lang, pattern in rules:
                for m in pattern.finditer(text):
                    negation = self.denial.search(text[: m.start()])
                    if negation is None:
                        return []
                    if text is words:
                        spans.append((negation.start(), m.end()))
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):  # "going to hurt" inside "not going to hurt myself"
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def _any_crisis_words(self, plain_text: str, expanded: str, words: str) -> bool:
        """Whether any crisis phrase or mention is in the message, in any of its forms."""
        return bool(
            (self.any_plain is not None and plain_text and self.any_plain.search(plain_text))
            or (
                self.any_words is not None
                and (self.any_words.search(expanded) or self.any_words.search(words))
            )
        )

    def calm_categories(self, plain_text: str, words: str) -> set[str]:
        """The crisis categories (or "all") the message has a calm context for.

        None when it says the harm was meant ("on purpose"): a kitchen is no alibi then.
        """
        texts = (plain_text, words)
        if self.any_calm is None or not any(self.any_calm.search(t) for t in texts):
            return set()  # no calm phrase: no category is calm, meant or not
        if self.deliberate is not None and any(self._affirmed(self.deliberate, t) for t in texts):
            return set()
        return {
            category
            for category, pattern in self.calm.items()
            if any(self._affirmed(pattern, t) for t in texts)
        }

    def _affirmed(self, pattern: re.Pattern[str], text: str) -> bool:
        """Whether `pattern` is in `text` once at least without a negation just before.

        Matches may overlap: in "i know im not. is that a panic attack" the negation ends the
        sentence before "is that a panic attack", and "panic attack" inside it still counts.
        """
        start = 0
        while (m := pattern.search(text, start)) is not None:
            if not self.calm_negation.search(text[: m.start()]):
                return True
            start = m.start() + 1
        return False

    def calm_context(self, words: str) -> bool:
        """Whether the message talks about the past or asks in general ("years ago")."""
        return bool(self.context and self.context.search(words))

    def now(self, words: str) -> bool:
        """Whether the message says something happens now ("tonight", "right now")."""
        return bool(self.present and self.present.search(words))


def _expand_all(normaliser: Normaliser, by_language: dict[str, list[str]]) -> list[str]:
    """Every phrase of a language -> phrases table, expanded as its language reads it."""
    return [normaliser.expand(p, lang) for lang, phrases in by_language.items() for p in phrases]


def _alternation(phrases: list[str]) -> str:
    """A regex alternation of the phrases, longest first, so the longest one matches."""
    return "|".join(sorted({re.escape(p) for p in phrases if p}, key=len, reverse=True))
