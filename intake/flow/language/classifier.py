"""A linear intent classifier: trained with scikit-learn, applied here in plain Python.

scikit-learn costs about 100 MB of memory once imported, so a web worker never imports it:
`fit` runs where training happens (a short-lived process at start-up) and returns plain
weights, and `LinearModel.rank` needs nothing but the standard library.
"""

from __future__ import annotations

import io
import json
import math
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from operator import itemgetter, mul
from typing import BinaryIO

DECIMALS = 5  # weights are rounded, so every process trained on the same data agrees exactly
FORMAT = "intents-4"  # the form to_bytes writes; a cache in another form is retrained
# min_df=3: a feature seen in one or two examples only is mostly noise, and costs memory in
# every worker (min_df=2 kept 52,469 features, 8 MB resident; 3 keeps 38,340, 6 MB).
# C=40: little regularisation; a sweep over 5-200 on fresh development splits found 40-80 best.
# Part of the cache key: a model trained with other settings is trained again.
SETTINGS = {"min_df": 3, "C": 40.0}
LEVELS = 32767  # a weight's largest step count: 16-bit signed integers
WORDS_KEPT = 2048  # words whose rows and sums `rank` keeps (about 1 MB); then it starts again


def feature_id(feature: str) -> int:
    """A feature's 64-bit name: two different checksums side by side, so 50,000 features share
    one only if both collide (`fit` refuses a model where two do).

    A worker keeps these in one array instead of a dict of 50,000 strings (8 MB less each).
    zlib's checksums cost a fifth of a cryptographic digest, and a message has a hundred
    features or more: this is most of what reading one costs.
    """
    data = feature.encode()
    return zlib.crc32(data) << 32 | zlib.adler32(data)


def word_features(token: str) -> list[str]:
    """One word's features: the word, and its character 3-4-grams (typos, endings)."""
    padded = f" {token} "
    out = [f"w:{token}"]
    for n in (3, 4):
        out += [f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1)]
    return out


def bigrams(tokens: list[str]) -> list[str]:
    return [f"b:{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def features(words: str) -> list[str]:
    """Word unigrams and bigrams, and character 3-4-grams inside words (typos, endings)."""
    tokens = words.split()
    return [f for t in tokens for f in word_features(t)] + bigrams(tokens)


@dataclass(frozen=True)
class LinearModel:
    """Multinomial logistic regression over TF-IDF features, as plain numbers.

    Weights are one flat array of 16-bit integers, class by class, each class with its own
    scale (weight = integer * scale), so a worker keeps about 2 MB, not tens, and `rank`
    gathers a word's rows from each class's part in C. A step is a class's largest weight /
    32,767 (about 0.0003); no development or evaluation row was read differently than with
    32-bit floats.
    """

    classes: tuple[str, ...]
    intercepts: tuple[float, ...]
    ids: array[int]  # feature_id of each row's feature, ascending
    idf: array[float]  # per row
    weights: array[int]  # class * len(ids) + row, in steps of the class's scale
    scales: tuple[float, ...]  # per class
    by_class: tuple[memoryview, ...] = field(init=False, repr=False, compare=False)
    # where the ids with each top 16 bits start: a feature is looked for among one or two
    # rows, not bisected over all of them (256 KB; bisecting cost more than the rest of `rank`)
    starts: array[int] = field(init=False, repr=False, compare=False)
    known: dict[str, tuple[tuple[str, float], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _seen: dict[str, tuple[array[int], array[float], float]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        n, view = len(self.ids), memoryview(self.weights)
        parts = tuple(view[i * n : (i + 1) * n] for i in range(len(self.classes)))
        object.__setattr__(self, "by_class", parts)  # views, not copies
        counts = [0] * (1 << 16)
        for fid in self.ids:
            counts[fid >> 48] += 1
        object.__setattr__(self, "starts", array("I", accumulate(counts, initial=0)))

    def row(self, feature: str) -> int:
        """The feature's row, or -1 when the model never saw it."""
        fid = feature_id(feature)
        bucket = fid >> 48
        for i in range(self.starts[bucket], self.starts[bucket + 1]):
            if self.ids[i] == fid:
                return i
        return -1

    def remember(self, texts: Iterable[str]) -> None:
        """Work out these texts' ranking now: the keywords most messages are (MENU, 1, STOP)
        are then looked up, not scored. Only the flow's own words: nothing a person wrote."""
        for words in texts:
            self.known[words] = tuple(self._rank(words))

    def rank(self, words: str) -> list[tuple[str, float]]:
        """Every class with its probability, most likely first (ties by name)."""
        known = self.known.get(words)
        return list(known) if known is not None else self._rank(words)

    def _rows(self, names: Iterable[str]) -> array[int]:
        """The rows of the features the model knows (`row` written out: a long message has
        150 features, and the calls cost a third)."""
        out = array("i")
        ids, starts, crc32, adler32 = self.ids, self.starts, zlib.crc32, zlib.adler32
        for f in names:
            data = f.encode()
            fid = crc32(data) << 32 | adler32(data)
            bucket = fid >> 48
            for i in range(starts[bucket], starts[bucket + 1]):
                if ids[i] == fid:
                    out.append(i)
                    break
        return out

    def _word(self, word: str) -> tuple[array[int], array[float], float]:
        """A word's rows (the word and its letter n-grams), each class's sum of their weights
        times idf, and the sum of their idf squared: kept for the words read last, since most
        of a message is words read before and hashing n-grams and summing rows is most of
        `rank`. A row a message has more than once is put right in `_rank`."""
        kept = self._seen.get(word)
        if kept is None:
            rows = self._rows(word_features(word))
            idf = [self.idf[r] for r in rows]
            kept = (rows, self._dot(rows, idf), math.fsum(x * x for x in idf))
            if len(self._seen) >= WORDS_KEPT:
                self._seen.clear()
            self._seen[word] = kept
        return kept

    def _dot(self, rows: array[int] | list[int], xs: list[float]) -> array[float]:
        """Per class, the sum of each row's weight (in steps) times its x: gathered in C."""
        if not rows:
            return array("d", bytes(8 * len(self.classes)))
        index = list(rows)
        gather = itemgetter(*index) if len(index) > 1 else lambda w: (w[index[0]],)
        return array("d", [sum(map(mul, gather(part), xs)) for part in self.by_class])

    def _rank(self, words: str) -> list[tuple[str, float]]:
        # TF-IDF with sublinear counts (1 + log count), scaled to unit length, one dot product
        # per class. Each word's part is kept summed as if every row came once; the rows a
        # message has twice or more, and the word pairs, are added here.
        scores = list(self.intercepts)
        tokens = words.split()
        kept = [self._word(t) for t in tokens]
        counts: Counter[int] = Counter()
        for rows, _, _ in kept:
            counts.update(rows)
        log, idf = math.log, self.idf
        extra: list[int] = []
        xs: list[float] = []
        square = math.fsum(sq for _, _, sq in kept)
        for row, c in counts.items():
            if c > 1:  # the kept sums count it c times; 1 + log c is right
                tf = 1.0 + log(c)
                extra.append(row)
                xs.append((tf - c) * idf[row])
                square += (tf * tf - c) * idf[row] * idf[row]
        for row, c in Counter(self._rows(bigrams(tokens))).items():
            tf = 1.0 + log(c)
            extra.append(row)
            xs.append(tf * idf[row])
            square += (tf * idf[row]) ** 2
        if square > 0:
            norm = math.sqrt(square)
            parts = [part for _, part, _ in kept] + [self._dot(extra, xs)]
            for i, column in enumerate(zip(*parts, strict=True)):
                scores[i] += self.scales[i] * math.fsum(column) / norm
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        ranked = [(c, e / total) for c, e in zip(self.classes, exps, strict=True)]
        return sorted(ranked, key=lambda p: (-p[1], p[0]))

    def to_bytes(self) -> bytes:
        """A compact form: a JSON header line, then the raw feature ids, idf and weights.

        Base64 inside JSON cost a worker about 6 MB more to read; the arrays are in this
        machine's byte order, which is all a cache file or a child process needs.
        """
        header = {
            "format": FORMAT,
            "classes": list(self.classes),
            "intercepts": list(self.intercepts),
            "scales": list(self.scales),
            "features": len(self.ids),
        }
        return (
            json.dumps(header).encode()
            + b"\n"
            + self.ids.tobytes()
            + self.idf.tobytes()
            + self.weights.tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearModel:
        """The model `to_bytes` wrote; ValueError when `data` is not one."""
        return cls.from_file(io.BytesIO(data))

    @classmethod
    def from_file(cls, file: BinaryIO) -> LinearModel:
        """The model `to_bytes` wrote, read straight into its arrays (no copy of the file in
        memory beside them: a worker's peak while loading stays in its resident size)."""
        header = json.loads(file.readline() or b"{}")
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError("not an intent model")
        n, k = int(header["features"]), len(header["classes"])
        if len(header["scales"]) != k or len(header["intercepts"]) != k:
            raise ValueError("an intent model without a scale and intercept for each class")
        ids: array[int] = array("Q")
        idf: array[float] = array("f")
        weights: array[int] = array("h")
        try:
            ids.fromfile(file, n)
            idf.fromfile(file, n)
            weights.fromfile(file, n * k)
        except EOFError as e:
            raise ValueError("a truncated intent model") from e
        if file.read(1):
            raise ValueError("an intent model with bytes left over")
        return cls(
            classes=tuple(str(c) for c in header["classes"]),
            intercepts=tuple(float(x) for x in header["intercepts"]),
            ids=ids,
            idf=idf,
            weights=weights,
            scales=tuple(float(x) for x in header["scales"]),
        )


def fit(texts: list[str], labels: list[str]) -> LinearModel:
    """Train on normalised texts; imports scikit-learn, so call it in a short-lived process."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    vectorizer = TfidfVectorizer(
        analyzer=features, sublinear_tf=True, min_df=int(SETTINGS["min_df"])
    )
    x = vectorizer.fit_transform(texts)
    model = LogisticRegression(C=SETTINGS["C"], max_iter=3000, class_weight="balanced")
    model.fit(x, labels)
    names = [str(n) for n in vectorizer.get_feature_names_out()]
    coef = model.coef_  # classes x features
    order = sorted(range(len(names)), key=lambda i: feature_id(names[i]))  # rows by feature id
    ids = [feature_id(names[i]) for i in order]
    if len(set(ids)) != len(ids):
        raise ValueError("two features share an id: change feature_id's digest")
    rounded = [[round(float(c[i]), DECIMALS) for i in order] for c in coef]
    scales = [max(map(abs, ws)) / LEVELS or 1.0 for ws in rounded]
    steps = [round(w / scale) for ws, scale in zip(rounded, scales, strict=True) for w in ws]
    weights = array("h", steps)
    idf = array("f", [round(float(vectorizer.idf_[i]), DECIMALS) for i in order])
    return LinearModel(
        classes=tuple(str(c) for c in model.classes_),
        intercepts=tuple(round(float(b), DECIMALS) for b in model.intercept_),
        ids=array("Q", ids),
        idf=idf,
        weights=weights,
        scales=tuple(scales),
    )
