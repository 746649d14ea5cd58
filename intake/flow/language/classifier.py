"""A linear intent classifier: trained with scikit-learn, applied here in plain Python.

scikit-learn costs about 100 MB of memory once imported, so a web worker never imports it:
`fit` runs where training happens (a short-lived process at start-up) and returns plain
weights, and `LinearModel.rank` needs nothing but the standard library.
"""

from __future__ import annotations

import base64
import math
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Any

DECIMALS = 5  # weights are rounded, so every process trained on the same data agrees exactly


def features(words: str) -> list[str]:
    """Word unigrams and bigrams, and character 3-4-grams inside words (typos, endings)."""
    tokens = words.split()
    out = [f"w:{t}" for t in tokens]
    out += [f"b:{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    for t in tokens:
        padded = f" {t} "
        for n in (3, 4):
            out += [f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1)]
    return out


@dataclass(frozen=True)
class LinearModel:
    """Multinomial logistic regression over TF-IDF features, as plain numbers.

    Weights are one flat float32 array (feature-major), so a worker keeps a few MB, not tens.
    """

    classes: tuple[str, ...]
    intercepts: tuple[float, ...]
    index: dict[str, int]  # feature -> row
    idf: array[float]  # per row
    weights: array[float]  # row * len(classes) + class

    def rank(self, words: str) -> list[tuple[str, float]]:
        """Every class with its probability, most likely first (ties by name)."""
        counts = Counter(f for f in features(words) if f in self.index)
        scores = list(self.intercepts)
        k = len(scores)
        if counts:
            rows = {self.index[f]: (1.0 + math.log(c)) for f, c in counts.items()}
            values = {row: tf * self.idf[row] for row, tf in rows.items()}
            norm = math.sqrt(sum(v * v for v in values.values()))
            for row, v in values.items():
                x = v / norm
                base = row * k
                for i in range(k):
                    scores[i] += self.weights[base + i] * x
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        ranked = [(c, e / total) for c, e in zip(self.classes, exps, strict=True)]
        return sorted(ranked, key=lambda p: (-p[1], p[0]))

    def to_json(self) -> dict[str, Any]:
        names = sorted(self.index, key=self.index.__getitem__)
        return {
            "classes": list(self.classes),
            "intercepts": list(self.intercepts),
            "features": names,
            "idf": base64.b64encode(self.idf.tobytes()).decode(),
            "weights": base64.b64encode(self.weights.tobytes()).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearModel:
        idf: array[float] = array("f")
        idf.frombytes(base64.b64decode(data["idf"]))
        weights: array[float] = array("f")
        weights.frombytes(base64.b64decode(data["weights"]))
        return cls(
            classes=tuple(data["classes"]),
            intercepts=tuple(float(x) for x in data["intercepts"]),
            index={str(f): i for i, f in enumerate(data["features"])},
            idf=idf,
            weights=weights,
        )


def fit(texts: list[str], labels: list[str]) -> LinearModel:
    """Train on normalised texts; imports scikit-learn, so call it in a short-lived process."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    # min_df=2: a feature seen in one example only is noise, and costs memory in every worker
    vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True, min_df=2)
    x = vectorizer.fit_transform(texts)
    # C=40: little regularisation; a sweep over 5-200 on fresh development splits found 40-80 best
    model = LogisticRegression(C=40.0, max_iter=3000, class_weight="balanced")
    model.fit(x, labels)
    names = [str(n) for n in vectorizer.get_feature_names_out()]
    coef = model.coef_.T  # features x classes
    weights = array("f", [round(float(w), DECIMALS) for row in coef for w in row])
    idf = array("f", [round(float(v), DECIMALS) for v in vectorizer.idf_])
    return LinearModel(
        classes=tuple(str(c) for c in model.classes_),
        intercepts=tuple(round(float(b), DECIMALS) for b in model.intercept_),
        index={name: i for i, name in enumerate(names)},
        idf=idf,
        weights=weights,
    )
