"""Regenerate flows/language/examples-devsplits.yaml from the promoted development splits.

    PYTHONPATH=. .venv/bin/python -m tests.language.promote dev2 dev3 ... dev27

Rows are grouped by intent, then language, in split order; a row already in another training
file (or earlier in this one) is left out, compared the way the layer reads text. The
evaluation split is refused: it is never training data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from intake.flow.text import plain

from .evaluate import ROOT, load_split

TARGET = ROOT / "flows/language/examples-devsplits.yaml"
# the corpus README's order
INTENTS = (
    "opioids effects depression anxiety treatment dual admissions call help menu stop start "
    "spanish english none crisis_suicide crisis_self_harm crisis_overdose crisis_danger"
).split()
HEADER = """\
# The rows of development splits {names} (tests/language/), as training examples.
# Each split was written by a different person; once its figures had been read for tuning it
# became training data, and fresh splits took over the check that changes generalise. The
# held-out evaluation split (tests/language/eval.yaml) is never copied here.
"""


def render(splits: list[str], target: Path = TARGET) -> str:
    """The file's text for these splits, deduplicated against the other training files."""
    if "eval" in splits:
        raise ValueError("the evaluation split is never training data")
    seen: set[str] = set()
    for path in sorted(target.parent.glob("examples*.yaml")):
        if path != target:
            examples = yaml.safe_load(path.read_text("utf-8")) or {}
            seen |= {plain(t) for by in examples.values() for ts in by.values() for t in ts}
    grouped: dict[str, dict[str, list[str]]] = {}
    for split in splits:
        for row in load_split(split):
            text, key = str(row["text"]), plain(str(row["text"]))
            if key in seen:
                continue
            seen.add(key)
            grouped.setdefault(str(row["intent"]), {}).setdefault(str(row["lang"]), []).append(text)
    lines = [HEADER.format(names=", ".join(splits))]
    for intent in sorted(grouped, key=lambda i: (INTENTS.index(i) if i in INTENTS else 99, i)):
        lines.append(f"{intent}:")
        for lang in sorted(grouped[intent]):
            lines.append(f"  {lang}:")
            lines += [f"    - {json.dumps(t, ensure_ascii=False)}" for t in grouped[intent][lang]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("splits", nargs="+", help="development splits, in order")
    parser.add_argument("--check", action="store_true", help="only say whether the file differs")
    args = parser.parse_args(argv)
    text = render(args.splits)
    if args.check:
        same = TARGET.read_text("utf-8") == text
        print("up to date" if same else "differs")
        return 0 if same else 1
    TARGET.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
