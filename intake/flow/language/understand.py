"""One reading of a message: crisis, the intent meant, and how sure we are."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

from ..model import CrisisSpec, LanguageSpec
from ..text import plain
from .classifier import LinearModel
from .normalise import Normaliser
from .rules import Match, Rules

# where a sentence or a clause ends: a question asked, then something else said ("do you take
# tricare? hes waving his pistol around right now")
_SENTENCE_END = re.compile(r"[.?!;,\n]+")
_COMMON = 200  # uses in the examples that make a word of one or two letters a common one


@dataclass(frozen=True)
class Reading:
    """What the language layer made of one message."""

    plain: str  # lower case, no accents or punctuation
    words: str  # shorthand spelled out, typos corrected
    language: str | None  # the language the words look like, when clear
    crisis: tuple[str, str] | None = None  # (category, language)
    keyword: tuple[str, str] | None = None  # (intent, language): the whole message
    intent: str | None = None  # the intent meant, when sure enough
    source: str = ""  # keyword, phrase or classifier
    clarify: tuple[str, ...] = ()  # two intents to offer when unsure
    found: tuple[Match, ...] = ()
    original: str = ""  # as written: names keep their capitals, times their colons
    ranked: tuple[tuple[str, float], ...] = field(default=(), repr=False)


class Language:
    """Normalise -> match (keywords, phrases, fuzzy) -> classify. Deterministic, no I/O."""

    def __init__(
        self,
        spec: LanguageSpec,
        crisis: CrisisSpec,
        languages: list[str],
        examples: dict[str, dict[str, list[str]]],
        extra_words: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.spec = spec
        self.languages = languages
        self.normaliser = Normaliser(spec.shorthand, languages)
        vocab: dict[str, set[str]] = {lang: set() for lang in languages}

        stems: set[str] = set()

        def add(text: str, lang: str) -> None:
            words = [w for w in self.normaliser.expand(text, lang).split() if w != "*"]
            stems.update(w.rstrip("*") for w in words if w.endswith("*"))
            vocab.setdefault(lang, set()).update(w.rstrip("*") for w in words)

        for intent_words in spec.intents.values():
            for words_table in (intent_words.keywords, intent_words.phrases):
                for lang, items in words_table.items():
                    for item in items:
                        add(item, lang)
        for crisis_table in (crisis.categories, crisis.mentions):
            for phrases_by_language in crisis_table.values():
                for lang, phrases in phrases_by_language.items():
                    for phrase in phrases:
                        add(phrase, lang)
        for text, lang in extra_words:
            add(text, lang)
        # typos are corrected to the rules' words, but for the exact ones (typos of these are
        # missed: "mouse" is not "house")
        targets = set().union(*vocab.values()) - set(spec.exact_words)
        # Words the examples use more than once are words, not typos: leave them as they are.
        seen: Counter[tuple[str, str]] = Counter()
        for examples_by_language in examples.values():
            for lang, texts in examples_by_language.items():
                for text in texts:
                    seen.update((w, lang) for w in self.normaliser.expand(text, lang).split())
        # A rule's `suicid*` matches "suicidal" and "suicide": the long forms the examples use
        # often are what typos of them ("suicdial") are corrected to, not the bare stem. Only
        # long stems and words: one letter off a short one is often another word ("taped" is
        # not "raped", "clapping" not "slapping").
        starts = tuple(sorted(s for s in stems if len(s) >= 6))
        targets |= {
            w for (w, _), n in seen.items() if n > 2 and len(w) >= 7 and w.startswith(starts)
        }
        near = Normaliser(spec.shorthand, languages)
        near.learn(targets, spec.fuzzy_min_length, targets)
        for (word, lang), n in seen.items():
            # ... unless one letter from a much commoner rule word of the same language, and
            # seldom written: "opiods" is a typo of "opioids", while "bueno" is a word of its
            # own beside "buenas", and "hand", "might", "buried" and "short" (written often)
            # are not "and", "night", "burned" and "shoot"; nor English "loss" Spanish "los";
            # and Spanish written as it sounds ("bibir") is read as the word however often
            fixed = near.correct(word) if word not in targets else word
            said = lang == "es" and fixed != word and near.as_said(word) == fixed
            typo = said or (
                fixed != word
                and OSA.distance(fixed, word) == 1
                and n * 5 < seen[(fixed, lang)]
                and n < self.spec.typo_max_uses
            )
            if n > 1 and not typo:
                vocab.setdefault(lang, set()).add(word)
        # the short words the examples use all the time ("a", "me", "de"): what words typed
        # without spaces are made of, beside longer known words
        short = {w for (w, _), n in seen.items() if len(w) <= 2 and n >= _COMMON}
        self.normaliser.learn(
            set().union(*vocab.values()), spec.fuzzy_min_length, targets, short_words=short
        )
        # Words only one language uses tell which language a message is in.
        self.own_words = {
            lang: frozenset(vocab[lang] - set().union(*(vocab[o] for o in vocab if o != lang)))
            for lang in vocab
        }
        self.rules = Rules(spec, crisis, self.normaliser)
        self.calm_veto = frozenset(crisis.calm_veto)
        self.crisis_classes = {
            intent: words.crisis for intent, words in spec.intents.items() if words.crisis
        }
        self._model: LinearModel | None = None

    @property
    def model(self) -> LinearModel | None:
        """The intent classifier, once trained (None: rules only)."""
        return self._model

    @model.setter
    def model(self, model: LinearModel | None) -> None:
        if model is not None:
            model.remember(self.rules.keywords)  # a keyword's reading: looked up, not scored
        self._model = model

    def training_data(
        self, examples: dict[str, dict[str, list[str]]]
    ) -> tuple[list[str], list[str]]:
        """(texts, labels) for the classifier: examples, plus each intent's own words."""
        texts: list[str] = []
        labels: list[str] = []
        for intent, by_language in sorted(examples.items()):
            words = self.spec.intents.get(intent)
            if words is None:
                continue  # `classify: false` intents are learnt too, so that they are not
                # mistaken for others, but never acted on when only the classifier says so
            for lang, items in sorted(by_language.items()):
                for item in items:
                    texts.append(self.normaliser.words(item, lang))
                    labels.append(intent)
            for table in (words.keywords, words.phrases):
                for lang, items in sorted(table.items()):
                    for item in items:
                        texts.append(self.normaliser.expand(item.replace("*", ""), lang))
                        labels.append(intent)
        return texts, labels

    def guess_language(self, words: str) -> str | None:
        """The flow language whose own words the message uses most, if any."""
        tokens = words.split()
        counts = {lang: sum(t in own for t in tokens) for lang, own in self.own_words.items()}
        best = max(counts.values(), default=0)
        winners = [lang for lang, n in counts.items() if n == best]
        return winners[0] if best and len(winners) == 1 else None

    def read(self, text: str, prefer: str, answering: bool = False) -> Reading:
        """Everything the layer can tell about `text`; `prefer` is the session's language.

        `answering`: the message answers one of our questions (a name, a time): data, so the
        classifier alone needs the higher bar to call it a crisis. Crisis phrases still count.
        """
        p = plain(text)
        expanded = self.normaliser.expand(text, prefer) if p else ""
        words = self.normaliser.corrected(expanded)
        language = self.guess_language(words)
        if not words:
            return Reading(plain=p, words=words, language=language, original=text)
        calm = self.rules.calm_categories(p, words)
        crisis, mention, doubted = self.rules.crisis(p, expanded, words, prefer, calm)
        keyword = self.rules.keyword(words, prefer)
        matches, cancelled = self.rules.find(words)
        found = tuple(m for m in matches if m.intent not in self.crisis_classes)
        ranked = tuple(self.model.rank(words)) if self.model is not None else ()
        if crisis is None:
            doubt = doubted or ("calm" if answering else "")
            crisis = self._crisis_guess(p, words, ranked, language or prefer, mention, doubt, calm)
            if crisis is None and mention is not None and doubt != "negated":
                crisis = self._sentence_guess(text, prefer, language or prefer)
        elif ranked:
            crisis = (self._category(ranked) or crisis[0], crisis[1])
        # a request cancelled in words ("please dont call me") is not guessed back in
        guessable = tuple((c, p) for c, p in ranked if c not in cancelled)
        intent, source, clarify = self._decide(words, keyword, found, guessable)
        return Reading(
            plain=p,
            words=words,
            language=language,
            crisis=crisis,
            keyword=keyword,
            intent=intent,
            source=source,
            clarify=clarify,
            found=found,
            original=text,
            ranked=ranked,
        )

    def _crisis_guess(
        self,
        plain_text: str,
        words: str,
        ranked: tuple[tuple[str, float], ...],
        language: str,
        mention: tuple[str, str] | None,
        doubt: str,
        calm: set[str],
    ) -> tuple[str, str] | None:
        """Crisis by the classifier: a lower bar beside a crisis word, a higher one in doubt."""
        crisis = [(c, p) for c, p in ranked if c in self.crisis_classes]
        if not crisis:
            return None
        if mention is None and " " not in words:
            # one word is little to guess from ("me" answers a question), unless it is a long
            # one the model is sure of ("cuttin")
            if len(words) < 6 or crisis[0][1] < self.spec.negated_confidence:
                return None
        guessed = self.crisis_classes[crisis[0][0]]
        reassured = doubt == "negated" and self._reassured(plain_text, words)
        if (
            doubt == "negated"
            and mention is not None
            and mention[0] != guessed
            and ranked[0][0] == crisis[0][0]
            and not reassured
        ):
            # "i dont want to die, i just cut": the negation is about another crisis, which the
            # classifier puts first; when it puts a calm reading first, the reassurance
            # ("im not gonna hurt myself, just a rough day") holds for the whole message
            doubt, mention = "", None
        if mention is None and guessed in calm:
            if guessed in self.calm_veto:
                return None  # no crisis word, and the calm use of one: "cutting onions"
            doubt = doubt or "calm"
        if doubt == "negated" and ("all" in calm or reassured):
            # "i dont want to die, i want to live"; "i would never kill myself, my faith
            # keeps me going": a plain denial and something else said beside it
            bar = self.spec.reassured_confidence
        elif doubt == "negated" and self.rules.hedged(plain_text, words):
            # "i would never kill myself but i think about it a lot", "no me voy a matar, creo":
            # a denial that takes itself back is a mention like any other
            bar = self.spec.mention_confidence
        elif doubt == "negated" or (
            mention is None and "all" in calm and not self.rules.now(words)
        ):
            # "im not suicidal or anything"; no crisis word at all, and talk of a film, of
            # the past or of being fine: "i think about death sometimes, not planning anything"
            # (but "we came here when i was a kid ... swimming out tonight" is only in doubt)
            bar = self.spec.negated_confidence
        elif doubt or (
            mention is not None and self.rules.calm_context(words) and not self.rules.now(words)
        ):
            # "overdosed last year", an answer to a question; but a question beside something
            # happening now is no general question: "is it true you take medicaid my stepdad is
            # holding a knife right now"
            bar = self.spec.context_confidence
        elif mention is not None:
            bar = self.spec.mention_confidence
        else:
            bar = self.spec.crisis_confidence
        # In doubt, the classifier must be sure that it is a crisis at all: a caller it reads
        # as half suicide, half danger ("walking out into the water tonight", after talk of the
        # past) is as sure as one it reads as suicide. Otherwise the likeliest class alone must
        # clear the bar: a short calm message spread thin over the classes is no signal.
        sure = sum(p for _, p in crisis) if bar >= self.spec.context_confidence else crisis[0][1]
        if sure < bar:
            return None
        category = self._category(ranked) or (mention[0] if mention else None)
        return category or self.crisis_classes[crisis[0][0]], mention[1] if mention else language

    def _sentence_guess(self, text: str, prefer: str, language: str) -> tuple[str, str] | None:
        """Crisis in a sentence that has a crisis word and says it happens now, read alone (its
        phrases, then the classifier): a question about insurance before it outweighs it in the
        whole message."""
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
        if len(sentences) < 2 or self.model is None:
            return None
        for sentence in sentences:
            p = plain(sentence)
            expanded = self.normaliser.expand(sentence, prefer)
            words = self.normaliser.corrected(expanded)
            if len(words.split()) < 3 or not self.rules.now(words):
                continue  # only a sentence that says it happens now ("right now", "rn")
            calm = self.rules.calm_categories(p, words)
            sure, mention, doubted = self.rules.crisis(p, expanded, words, prefer, calm)
            if doubted:
                continue
            if sure is not None:
                return sure  # a crisis phrase that only another sentence made a mention
            if mention is None:
                continue
            ranked = tuple(self.model.rank(words))
            guess = self._crisis_guess(p, words, ranked, language, mention, "", calm)
            if guess is not None:
                return guess
        return None

    def _reassured(self, plain_text: str, words: str) -> bool:
        """Whether the message plainly denies its crisis words and says something else too,
        which alone does not read as a crisis ("i dont want to die, i just cut" does)."""
        rest = self.rules.denied(plain_text, words)
        if rest is None or len(rest.split()) < self.spec.reassured_words or self.model is None:
            return False
        crisis = [p for c, p in self.model.rank(rest) if c in self.crisis_classes]
        return not crisis or crisis[0] < self.spec.negated_confidence

    def _category(self, ranked: tuple[tuple[str, float], ...]) -> str | None:
        """The classifier's crisis category when it is fairly sure of it."""
        crisis = [(c, p) for c, p in ranked if c in self.crisis_classes]
        if crisis and crisis[0][1] >= self.spec.category_confidence:
            return self.crisis_classes[crisis[0][0]]
        return None

    def _guarded(
        self, words: str, found: tuple[Match, ...], ranked: tuple[tuple[str, float], ...]
    ) -> str | None:
        """A rules-only intent (stop, start) the classifier is sure of, with its own words."""
        guesses = [(c, p) for c, p in ranked if c not in self.crisis_classes]
        if not guesses:
            return None
        first, p1 = guesses[0]
        spec = self.spec.intents.get(first)
        if spec is None or spec.classify or p1 < self.spec.guarded_confidence:
            return None
        if any(self.spec.intents[m.intent].priority > spec.priority for m in found):
            return None
        return first if self.rules.may_guess(first, words) else None

    def _either(self, words: str) -> bool:
        return any(w in self.spec.either_words for w in words.split())

    def _decide(
        self,
        words: str,
        keyword: tuple[str, str] | None,
        found: tuple[Match, ...],
        ranked: tuple[tuple[str, float], ...],
    ) -> tuple[str | None, str, tuple[str, ...]]:
        if keyword is not None:
            return keyword[0], "keyword", ()
        guarded = self._guarded(words, found, ranked)
        if guarded is not None:
            return guarded, "classifier", ()
        # Phrases found and the classifier vote together: a phrase adds to its intent's
        # probability, so "can opioids affect your sleep" can still be about side effects.
        scores = {c: p for c, p in ranked if c not in self.crisis_classes}
        for m in found:
            bonus = self.spec.phrase_weight * min(m.words, 3)
            scores[m.intent] = scores.get(m.intent, 0.0) + bonus
        if found:
            top_priority = max(self.spec.intents[m.intent].priority for m in found)
            if top_priority > 0:  # stop, call: a clear request wins over a topic
                best = [m for m in found if self.spec.intents[m.intent].priority == top_priority]
                return max(best, key=lambda m: (scores[m.intent], m.intent)).intent, "phrase", ()
            found_ids = {m.intent for m in found}
            usable = {
                c: v for c, v in scores.items() if c in found_ids or self.spec.intents[c].classify
            }
            ordered = sorted(usable.items(), key=lambda kv: (-kv[1], kv[0]))
            first, s1 = ordered[0]
            second, s2 = ordered[1] if len(ordered) > 1 else ("", 0.0)
            if first == self.spec.none_intent:
                # "watching a documentary about the opioid epidemic": a mention, not a question
                if s1 - s2 >= self.spec.margin:
                    return None, "classifier", ()
                first, s1 = second, s2
                second, s2 = ordered[2] if len(ordered) > 2 else ("", 0.0)
            named = sorted(found_ids, key=lambda i: (-scores[i], i))
            # "anxiety or depression": theirs to choose; in a longer sentence "or" may join
            # clauses instead ("does withdrawal cause anxiety or is it just me")
            close = len(named) > 1 and (
                len(words.split()) <= 6 or scores[named[0]] - scores[named[1]] < self.spec.margin
            )
            if close and self._either(words):
                return None, "phrase", (named[0], named[1])
            both_named = {first, second} <= found_ids
            if s1 - s2 >= self.spec.margin or not both_named:
                return first, "phrase", ()
            length = {m.intent: m.words for m in found}
            if length[first] != length[second]:  # the longer phrase says more
                return max((first, second), key=lambda i: length[i]), "phrase", ()
            return None, "phrase", (first, second)  # two phrases, neither stronger: ask
        guesses = [(c, p) for c, p in ranked if c not in self.crisis_classes]
        if guesses and not self.spec.intents[guesses[0][0]].classify:
            return None, "classifier", ()
        if not guesses:
            return None, "", ()
        (first, p1) = guesses[0]
        if first == self.spec.none_intent:
            return None, "classifier", ()
        if p1 >= self.spec.confidence:
            return first, "classifier", ()
        if len(guesses) > 1:
            second, p2 = guesses[1]
            if second != self.spec.none_intent and p1 + p2 >= self.spec.confidence:
                return None, "classifier", (first, second)
        return None, "classifier", ()
