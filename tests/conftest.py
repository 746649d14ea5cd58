"""Shared fixtures: a throwaway Redis (never the machine's own) and valid settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis

from intake.config import Settings
from intake.redis_server import start_redis


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
def session_settings_env(redis_url: str) -> dict[str, str]:
    """Environment variables that Settings.from_env accepts; copy before changing them."""
    return {
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "test-auth-token",
        "TWILIO_PHONE_NUMBER": "+17275550199",
        "PUBLIC_BASE_URL": "https://intake.example.org",
        "SECRET_KEY": "x" * 32,
    }


@pytest.fixture
def settings_env(session_settings_env: dict[str, str]) -> dict[str, str]:
    """Environment variables that Settings.from_env accepts; a test may change its copy."""
    return dict(session_settings_env)


@pytest.fixture
def settings(settings_env: dict[str, str]) -> Settings:
    return Settings.from_env(settings_env)
