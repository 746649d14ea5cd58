"""`make eval`: how well the language layer reads the labelled corpus, per language.

Prints accuracy, per-intent precision and recall, the confusion pairs, crisis recall, the
false-alarm rate and the time per message. The tests assert on the same figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from intake.flow.engine import Flow
from intake.flow.loader import default_params, load_flows

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# dev, dev2, dev3, ... in order, then the evaluation split
SPLITS = (
    *sorted((p.stem for p in HERE.glob("dev*.yaml")), key=lambda s: int(s[3:] or 1)),
    "eval",
)


def load_split(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = yaml.safe_load((HERE / f"{name}.yaml").read_text("utf-8"))
    return rows


def load_flow() -> Flow:
    return load_flows(ROOT / "flows", default_params("+17273917001", "Helpline"))["helpline"]


def predict(flow: Flow, text: str, language: str) -> str:
    """The corpus label the language layer gives a message, read at the menu."""
    reading = flow.language.read(text, language)
    if reading.crisis is not None:
        return f"crisis_{reading.crisis[0]}"
    return reading.intent or flow.language.spec.none_intent


@dataclass
class Report:
    """The figures for one set of rows."""

    rows: int = 0
    correct: int = 0
    crisis: int = 0
    crisis_found: int = 0
    crisis_category_right: int = 0
    calm: int = 0
    calm_alarms: int = 0
    non_crisis: int = 0
    alarms: int = 0
    seconds: list[float] = field(default_factory=list)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    hits: Counter[str] = field(default_factory=Counter)
    missed: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.rows if self.rows else 1.0

    @property
    def crisis_recall(self) -> float:
        return self.crisis_found / self.crisis if self.crisis else 1.0

    @property
    def calm_false_alarms(self) -> float:
        return self.calm_alarms / self.calm if self.calm else 0.0

    @property
    def false_alarms(self) -> float:
        return self.alarms / self.non_crisis if self.non_crisis else 0.0

    @property
    def intent_accuracy(self) -> float:
        """Accuracy over messages that are not a crisis (crisis is measured by recall)."""
        n = self.rows - self.crisis
        right = self.correct - self.crisis_category_right
        return right / n if n else 1.0


def evaluate(flow: Flow, rows: list[dict[str, Any]]) -> dict[str, Report]:
    """Reports per language and for all rows together ("all")."""
    reports = {"all": Report()}
    for row in rows:
        text, lang, want = str(row["text"]), str(row["lang"]), str(row["intent"])
        started = time.perf_counter()
        got = predict(flow, text, lang)
        elapsed = time.perf_counter() - started
        for report in (reports["all"], reports.setdefault(lang, Report())):
            report.rows += 1
            report.seconds.append(elapsed)
            report.expected[want] += 1
            report.predicted[got] += 1
            if got == want:
                report.correct += 1
                report.hits[want] += 1
            else:
                report.pairs[(want, got)] += 1
            if want.startswith("crisis_"):
                report.crisis += 1
                if got.startswith("crisis_"):
                    report.crisis_found += 1
                    report.crisis_category_right += got == want
                else:
                    report.missed.append(text)
            else:
                report.non_crisis += 1
                report.alarms += got.startswith("crisis_")
                if row.get("calm"):
                    report.calm += 1
                    report.calm_alarms += got.startswith("crisis_")
    return reports


def show(name: str, reports: dict[str, Report], out: Any = sys.stdout) -> None:
    for lang, r in sorted(reports.items(), key=lambda kv: kv[0] != "all"):
        ms = sorted(s * 1000 for s in r.seconds)
        p95 = ms[int(0.95 * (len(ms) - 1))] if ms else 0.0
        print(f"\n== {name} split, {lang}: {r.rows} messages", file=out)
        print(
            f"intent accuracy {r.intent_accuracy:.1%} (non-crisis messages), "
            f"overall accuracy {r.accuracy:.1%}",
            file=out,
        )
        print(
            f"crisis recall {r.crisis_recall:.1%} ({r.crisis_found}/{r.crisis}), "
            f"category right {r.crisis_category_right}/{r.crisis}; "
            f"false alarms {r.calm_false_alarms:.1%} of calm messages "
            f"({r.calm_alarms}/{r.calm}), {r.false_alarms:.1%} of all non-crisis "
            f"({r.alarms}/{r.non_crisis})",
            file=out,
        )
        print(
            f"time per message: median {statistics.median(ms) if ms else 0:.3f} ms, "
            f"p95 {p95:.3f} ms",
            file=out,
        )
        print(f"{'intent':<18}{'precision':>10}{'recall':>8}{'n':>5}", file=out)
        for intent in sorted(set(r.expected) | set(r.predicted)):
            hits = r.hits[intent]
            precision = hits / r.predicted[intent] if r.predicted[intent] else 0.0
            recall = hits / r.expected[intent] if r.expected[intent] else 0.0
            print(f"{intent:<18}{precision:>10.2f}{recall:>8.2f}{r.expected[intent]:>5}", file=out)
        if r.pairs:
            top = ", ".join(f"{w}->{g} {n}" for (w, g), n in r.pairs.most_common(12))
            print(f"confusions (expected->got): {top}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, action="append", help="default: every split")
    parser.add_argument("--misses", action="store_true", help="list errors (dev splits only)")
    args = parser.parse_args(argv)
    flow = load_flow()
    for name in args.split or SPLITS:
        rows = load_split(name)
        reports = evaluate(flow, rows)
        show(name, reports)
        if args.misses and name != "eval":
            for row in rows:
                got = predict(flow, str(row["text"]), str(row["lang"]))
                if got != row["intent"]:
                    print(f"  {row['intent']:>16} -> {got:<16} {row['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
