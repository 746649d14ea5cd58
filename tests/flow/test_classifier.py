"""The intent model's stored form: read back exactly, and refused whole when damaged."""

from __future__ import annotations

import math
from array import array
from pathlib import Path

import pytest

from intake.flow import loader
from intake.flow.language.classifier import LinearModel, feature_id, features


def small_model() -> LinearModel:
    names = sorted(set(features("call me back")), key=feature_id)
    n = len(names)
    return LinearModel(
        classes=("call", "menu"),
        intercepts=(0.5, -0.25),
        ids=array("Q", [feature_id(f) for f in names]),
        idf=array("f", [1.0 + i / 8 for i in range(n)]),
        weights=array("h", [i * 50 - 1000 for i in range(2 * n)]),
        scales=(0.005, 0.01),
    )


def test_it_reads_back_the_model_it_wrote() -> None:
    model = small_model()
    again = LinearModel.from_bytes(model.to_bytes())
    assert again == model
    assert again.rank("call me back") == model.rank("call me back")
    assert sum(p for _, p in again.rank("call me back")) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1],  # cut short
        lambda data: data[: data.index(b"\n") + 5],
        lambda data: data + b"\0",  # something after it
        lambda data: b"",
        lambda data: b"\xff\xfe" + data,
        lambda data: data.replace(b"intents-4", b"intents-3"),  # an older format
        lambda data: data.replace(b'"scales": [0.005, 0.01]', b'"scales": [0.005]'),
        lambda data: data[: data.index(b"\n")],  # the header alone
    ],
)
def test_it_refuses_a_damaged_model(damage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = damage(small_model().to_bytes())
    with pytest.raises(ValueError):
        LinearModel.from_bytes(data)
    cached = tmp_path / "intents-x.bin"
    cached.write_bytes(data)
    assert loader._read_model(cached) is None  # so the loader trains again


def test_it_reads_a_model_from_a_file(tmp_path: Path) -> None:
    cached = tmp_path / "intents-x.bin"
    cached.write_bytes(small_model().to_bytes())
    assert loader._read_model(cached) == small_model()
    assert loader._read_model(tmp_path / "missing.bin") is None


def test_it_ranks_the_same_whether_a_word_was_read_before_or_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("intake.flow.language.classifier.WORDS_KEPT", 2)
    model = small_model()
    first = model.rank("call me back")  # nothing kept yet
    assert model.rank("call me back") == first  # its words kept (two at most)
    model.rank("menu please")  # others take their place
    assert model.rank("call me back") == first
    assert len(model._seen) <= 2
    # by the formula: TF-IDF over the features it knows, then softmax
    rows = {model.row(f) for f in features("call me back")} - {-1}
    values = [model.idf[r] for r in rows]
    norm = sum(v * v for v in values) ** 0.5
    scores = [
        b
        + model.scales[k]
        * sum(model.by_class[k][r] * v / norm for r, v in zip(rows, values, strict=True))
        for k, b in enumerate(model.intercepts)
    ]
    top = max(scores)
    total = sum(math.exp(s - top) for s in scores)
    want = sorted(
        ((c, math.exp(s - top) / total) for c, s in zip(model.classes, scores, strict=True)),
        key=lambda p: (-p[1], p[0]),
    )
    assert [c for c, _ in first] == [c for c, _ in want]
    assert [p for _, p in first] == pytest.approx([p for _, p in want])
