"""Text as the language layer reads it: plain words, shorthand spelled out, typos corrected."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from ..text import plain

_STRETCHED = re.compile(r"([a-z])\1{2,}")  # "soooo": three or more of one letter
# a letter doubled at the end is a slip ("yess"); inside a word it is often the word ("meet")
_DOUBLED = re.compile(r"([a-z])\1$")
_B_V = str.maketrans("bv", "vb")
# Words typed without spaces: a whole message of at least _RUN_ON letters ("hesgotahammer"),
# or a run of _LONG_RUN inside one, split into at least _PIECES known words. A long word we do
# not know splits into known pieces too ("atropellarme": "at rope ll arm e"), so pieces are
# words of three letters or more, or short words the examples use all the time ("a", "me").
_RUN_ON = 12
_LONG_RUN = 20
_LONGEST_WORD = 20
_PIECES = 4


def _sound_alikes(word: str) -> list[str]:
    """Spellings that sound the same in Spanish: b and v, ll and y, s and z, a silent h."""
    out = [word.translate(_B_V), word.replace("ll", "y"), word.replace("y", "ll")]
    out += [word.replace("z", "s"), "h" + word, word[1:] if word[0] == "h" else word]
    return [w for w in out if w != word]


def _other_than_stem(word: str, choice: str) -> bool:
    """Whether `choice` turns a past tense into a word of another kind: "closed" is not
    "closet" (while "deserved" may still read as "deserve", "depresed" as "depressed")."""
    return (
        word.endswith("ed") and not choice.endswith("ed") and choice not in (word[:-1], word[:-2])
    )


class Normaliser:
    """Turns messages and phrases into the same words, so that they can be compared."""

    def __init__(self, shorthand: dict[str, dict[str, str]], languages: list[str]) -> None:
        self.languages = languages
        # Each language's own spelling-out wins; the other's fills the gaps.
        self.shorthand: dict[str, dict[str, str]] = {}
        for lang in languages:
            merged: dict[str, str] = {}
            for other in [x for x in languages if x != lang] + [lang]:
                for short, long in shorthand.get(other, {}).items():
                    merged[plain(short)] = plain(long)
            self.shorthand[lang] = merged
        self.vocabulary: frozenset[str] = frozenset()
        self.short_words: frozenset[str] = frozenset()
        self._shorthand_words = frozenset(w for table in self.shorthand.values() for w in table)
        self.fuzzy_min_length = 5
        self._by_length: dict[int, list[str]] = {}

    def learn(
        self,
        words: Iterable[str],
        fuzzy_min_length: int,
        targets: Iterable[str],
        short_words: Iterable[str] = (),
    ) -> None:
        """The words we know, left as they are, and the `targets` typos are corrected to;
        `short_words`: the words of one or two letters that words run together may contain."""
        self.vocabulary = frozenset(words)
        self.short_words = frozenset(short_words)
        self.fuzzy_min_length = fuzzy_min_length
        by_length: dict[int, list[str]] = {}
        for word in sorted(set(targets)):
            if len(word) >= fuzzy_min_length and word.isalpha():
                by_length.setdefault(len(word), []).append(word)
        self._by_length = by_length
        self.correct.cache_clear()
        self.forms.cache_clear()
        self._pieces.cache_clear()

    def expand(self, text: str, language: str) -> str:
        """Plain words with texting shorthand spelled out: 'pls call u' -> 'please call you'."""
        table = self.shorthand.get(language) or {}
        words = []
        for word in self.split_run_ons(plain(text)).split():
            if _STRETCHED.search(word):
                word = self.unstretch(word)
            word = table.get(word, word)
            known = self.vocabulary
            if word.endswith("in") and word not in known and word + "g" in known:
                word += "g"  # said, not a typo: "breakin", "tryin" (not "train")
            elif language == "es" and word not in known:
                word = self.as_said(word)  # written as said: "bibir" is "vivir"
            words.append(word)
        return " ".join(words)

    def split_run_ons(self, text: str) -> str:
        """Plain text with words typed without spaces split apart, when every piece is a
        word we know: "helpmeplzhesgotahammer" -> "help me plz hes got a hammer"."""
        runs = text.split()
        shortest = _RUN_ON if len(runs) == 1 else _LONG_RUN
        if not self.vocabulary or not any(len(w) >= shortest for w in runs):
            return text
        return " ".join(
            self._pieces(w)
            if len(w) >= shortest and w not in self.vocabulary and self.correct(w) == w
            else w
            for w in runs
        )

    @lru_cache(maxsize=256)  # noqa: B019 - one Normaliser per loaded flow
    def _pieces(self, run: str) -> str:
        """The fewest known words that make up `run`; `run` itself when there are none, or
        fewer than _PIECES."""
        known = self.vocabulary
        shorthand = self._shorthand_words
        # fewest[i]: (pieces, minus the sum of their squared lengths, start of the last piece)
        # for the best split of run[:i]: the fewest pieces, then the longest words ("got a",
        # not "go ta"); then the first found ("a mi", not "am i")
        fewest: list[tuple[int, int, int] | None] = [(0, 0, 0)] + [None] * len(run)
        for end in range(1, len(run) + 1):
            for start in range(max(0, end - _LONGEST_WORD), end):
                before = fewest[start]
                piece = run[start:end]
                if before is None or not (
                    piece in self.short_words
                    or (len(piece) > 2 and (piece in known or piece in shorthand))
                ):
                    continue
                now = fewest[end]
                score = (before[0] + 1, before[1] - len(piece) ** 2)
                if now is None or score < now[:2]:
                    fewest[end] = (*score, start)
        if fewest[-1] is None or fewest[-1][0] < _PIECES:
            return run  # fewer pieces are more often a word we do not know ("supermercado")
        pieces = []
        end = len(run)
        while end > 0:
            start = fewest[end][2]  # type: ignore[index]
            pieces.append(run[start:end])
            end = start
        return " ".join(reversed(pieces))

    def words(self, text: str, language: str) -> str:
        """Expanded, with typos corrected to the vocabulary: 'anxeity' -> 'anxiety'."""
        return self.corrected(self.expand(text, language))

    def corrected(self, expanded: str) -> str:
        """`expand`'s words with typos corrected (`words`, for when the expansion is needed too)."""
        return " ".join(self.correct(w) for w in expanded.split())

    @lru_cache(maxsize=256)  # noqa: B019 - one Normaliser per loaded flow
    def forms(self, words: tuple[str, ...]) -> frozenset[str]:
        """Every way `words` may arrive: plain, or spelled out in any of the flow's languages."""
        return frozenset(
            form
            for w in words
            for lang in self.languages
            for form in (self.expand(w, lang), plain(w))
        )

    def unstretch(self, word: str) -> str:
        """'sooo' -> 'so', 'killl' -> 'kill': the form the vocabulary knows, else one letter."""
        two = _STRETCHED.sub(r"\1\1", word)
        one = _STRETCHED.sub(r"\1", word)
        if one in self.vocabulary or two not in self.vocabulary:
            return one
        return two

    def as_said(self, word: str) -> str:
        """The vocabulary word spelled as it sounds in Spanish: "bibir" -> "vivir"; never a
        short word ("hall" is not "hay")."""
        for heard in _sound_alikes(word) if len(word) >= 4 else ():
            if heard in self.vocabulary and len(heard) >= 4:
                return heard
        return word

    @lru_cache(maxsize=4096)  # noqa: B019 - one Normaliser per loaded flow
    def correct(self, word: str) -> str:
        """The vocabulary word `word` was meant to be, when one or two letters are off."""
        if word in self.vocabulary or not word.isalpha():
            return word
        single = _DOUBLED.sub(r"\1", word)  # "yess" -> "yes", "diee" -> "die"
        if single != word and single in self.vocabulary:
            return single
        heard = self.as_said(word)
        if heard != word:
            return heard
        n = len(word)
        if n < self.fuzzy_min_length:
            return word  # never fuzzy on short words: no, si, ok, od
        edits = 1 if n < 8 else 2
        best: tuple[int, str] | None = None
        for length in range(n - edits, n + edits + 1):
            candidates = self._by_length.get(length)
            if not candidates:
                continue
            found = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=edits)
            if found is None:
                continue
            distance, choice = int(found[1]), str(found[0])
            if distance == 2 and choice[0] != word[0]:
                continue  # two edits and another first letter is another word
            if best is None or distance < best[0]:
                best = (distance, choice)
        if best is None or _other_than_stem(word, best[1]):
            return word
        return best[1]
