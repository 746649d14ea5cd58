"""Flow tests: the real flows/ directory, no Redis, no Flask."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.flow.engine import Flow
from intake.flow.loader import default_params, load_flows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def flow() -> Flow:
    return load_flows(ROOT / "flows", default_params("+17273917001", "Helpline"))["helpline"]
