"""Workers read their settings from the environment; local Twilio, SMTP and CRM stand-ins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import Retry

from intake import notifications
from intake.config import Settings
from tests.support.crm import CrmServer
from tests.support.mailbox import Mailbox
from tests.support.twilio_emulator import TwilioEmulator
from workers import jobs

# Variables a developer's shell might set that would change what these tests send.
NOTIFY_VARIABLES = (
    "TWILIO_API_BASE_URL",
    "STAFF_NOTIFY_NUMBERS",
    "ESCALATION_NUMBERS",
    "STAFF_NOTIFY_EMAILS",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_FROM",
    "SMTP_STARTTLS",
    "CRM_WEBHOOK_URL",
    "CRM_WEBHOOK_SECRET",
    "URGENT_CLAIM_MINUTES",
    "NORMAL_CLAIM_MINUTES",
    "BUSINESS_DAYS",
    "BUSINESS_HOURS",
    "BUSINESS_TIMEZONE",
    "PROGRAM_NAME",
)
STAFF_1 = "+13125550101"
STAFF_2 = "+13125550102"
ESCALATION = "+13125550109"
CRM_SECRET = "crm-shared-secret-0123456789"


class WorkerEnv:
    """The environment jobs read with Settings.from_env(), as the worker does in production."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, base: dict[str, str]) -> None:
        self.monkeypatch = monkeypatch
        self.values = dict(base)
        for name in NOTIFY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        self.set(**base)

    def set(self, **values: str) -> None:
        for name, value in values.items():
            self.values[name] = value
            self.monkeypatch.setenv(name, value)
        jobs.settings.cache_clear()
        jobs.flow.cache_clear()

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.values)


@pytest.fixture(autouse=True)
def worker_env(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[WorkerEnv]:
    monkeypatch.chdir(tmp_path)  # Settings.from_env() reads ./.env: not a developer's one
    # Retries at once, so in-process burst workers see them through; tests that check the
    # backoff itself set their own.
    monkeypatch.setattr(notifications, "SEND_RETRY", Retry(max=3, interval=0))
    yield WorkerEnv(monkeypatch, settings_env)
    jobs.settings.cache_clear()
    jobs.flow.cache_clear()


@pytest.fixture
def twilio(worker_env: WorkerEnv) -> Iterator[TwilioEmulator]:
    """The Messages endpoint on 127.0.0.1, with staff numbers configured."""
    with TwilioEmulator(
        worker_env.values["TWILIO_ACCOUNT_SID"], worker_env.values["TWILIO_AUTH_TOKEN"]
    ) as emulator:
        worker_env.set(
            TWILIO_API_BASE_URL=emulator.url,
            STAFF_NOTIFY_NUMBERS=f"{STAFF_1},{STAFF_2}",
        )
        yield emulator


@pytest.fixture
def mailbox(worker_env: WorkerEnv) -> Iterator[Mailbox]:
    with Mailbox() as box:
        worker_env.set(
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(box.port),
            SMTP_FROM="intake@center.example.org",
            SMTP_STARTTLS="false",
            STAFF_NOTIFY_EMAILS="oncall@center.example.org,lead@center.example.org",
        )
        yield box


@pytest.fixture
def crm(worker_env: WorkerEnv) -> Iterator[CrmServer]:
    with CrmServer(CRM_SECRET) as server:
        worker_env.set(CRM_WEBHOOK_URL=server.url, CRM_WEBHOOK_SECRET=CRM_SECRET)
        yield server
