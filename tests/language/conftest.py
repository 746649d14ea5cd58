"""Language tests: the real flows/ directory and its trained classifier; no Redis, no Flask."""

from __future__ import annotations

import pytest

from intake.flow.engine import Flow

from .evaluate import load_flow


@pytest.fixture(scope="session")
def flow() -> Flow:
    return load_flow()
