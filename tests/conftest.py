"""Shared fixtures: a throwaway Redis (never the machine's own) and valid settings."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from intake.config import Settings
from intake.redis_server import start_redis
from tests.support.stores import TEST_ENCRYPTION_KEY, TEST_LOOKUP_KEY
from workers import jobs

ROOT = Path(__file__).resolve().parents[1]
# Every variable the app reads (the .env.example test keeps this list complete).
ENV_EXAMPLE_NAMES = set(
    re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private redis-server for the whole test session."""
    with start_redis() as server:
        yield server.url


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[Redis]:
    """A client on the private Redis, emptied before each test."""
    conn = Redis.from_url(redis_url)
    conn.flushall()
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def session_settings_env(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Environment variables that Settings.from_env accepts; copy before changing them."""
    return {
        # one trained classifier for the whole run, in-process apps and gunicorn alike
        "MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("model-cache")),
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "test-auth-token",
        "TWILIO_PHONE_NUMBER": "+17275550199",
        "PUBLIC_BASE_URL": "https://intake.example.org",
        "SECRET_KEY": "x" * 32,
        "ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "LOOKUP_KEY": TEST_LOOKUP_KEY,
    }


@pytest.fixture
def settings_env(session_settings_env: dict[str, str]) -> dict[str, str]:
    """Environment variables that Settings.from_env accepts; a test may change its copy."""
    return dict(session_settings_env)


# Never reached in tests: a port nothing listens on, so no test can text real people.
NO_TWILIO = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def isolated_environment(
    session_settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """What in-process workers read: test settings only, never a developer's .env or shell."""
    monkeypatch.chdir(tmp_path)  # Settings.from_env() loads ./.env
    for name in list(os.environ):
        if name in ENV_EXAMPLE_NAMES:
            monkeypatch.delenv(name)
    for name, value in session_settings_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TWILIO_API_BASE_URL", NO_TWILIO)
    jobs.settings.cache_clear()
    jobs.flow.cache_clear()
    yield
    jobs.settings.cache_clear()
    jobs.flow.cache_clear()


@pytest.fixture
def settings(settings_env: dict[str, str]) -> Settings:
    return Settings.from_env(settings_env)
