"""`python -m intake.flow.language.train`: JSON {texts, labels} in, a LinearModel's bytes out.

The loader runs this in a child process so that scikit-learn never loads in a web worker.
"""

from __future__ import annotations

import json
import sys

from .classifier import fit


def main() -> int:
    data = json.load(sys.stdin)
    model = fit(list(data["texts"]), list(data["labels"]))
    sys.stdout.buffer.write(model.to_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
