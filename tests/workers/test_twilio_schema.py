"""Every kind of text the workers send, checked by Prism against Twilio's OpenAPI description.

Prism (installed once into .cache/prism with npm) serves tests/support/twilio-openapi (Twilio's
own description, MIT, copied into the repo) as a mock that refuses any request the schema does
not allow; the real twilio client is pointed at it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from redis import Redis
from rq.job import JobStatus
from rq.registry import FailedJobRegistry
from twilio.http.response import Response

from intake.notifications import STAFF_SMS_JOB, digest
from intake.outbound import Outbound, RebasedTwilioHttpClient, TransportError
from intake.queues import JobQueue, fetch_job
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE, StaffAccount
from intake.tasks import iso
from tests.support.net import free_port
from tests.support.stores import TEST_LOOKUP_KEY, make_store
from tests.support.worker import enqueue_task, new_task, work

from .conftest import ESCALATION, STAFF_1, STAFF_2, WorkerEnv

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "support" / "twilio-openapi" / "twilio_api_v2010.json"
PRISM_VERSION = "5.16.0"
PRISM_DIR = ROOT / ".cache" / "prism"
PRISM = PRISM_DIR / "node_modules" / ".bin" / "prism"
OWNER_PHONE = "+13125550177"


def prism_installed() -> bool:
    package = PRISM_DIR / "node_modules" / "@stoplight" / "prism-cli" / "package.json"
    return PRISM.exists() and f'"version": "{PRISM_VERSION}"' in package.read_text()


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prism mocking Twilio's REST API on a free port; its base URL."""
    if shutil.which("npm") is None:
        pytest.skip(
            "npm is not on PATH: cannot install Prism to check requests against Twilio's schema"
        )
    assert SPEC.exists(), f"Twilio's OpenAPI description is missing: {SPEC}"
    if not prism_installed():
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(PRISM_DIR),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"@stoplight/prism-cli@{PRISM_VERSION}",
            ],
            check=True,
            timeout=600,
        )
    port = free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), "--errors", str(SPEC)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "Prism did not start in 90 s"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


@pytest.fixture
def via_prism(prism: str, worker_env: WorkerEnv) -> WorkerEnv:
    worker_env.set(
        TWILIO_API_BASE_URL=prism,
        STAFF_NOTIFY_NUMBERS=f"{STAFF_1},{STAFF_2}",
        ESCALATION_NUMBERS=ESCALATION,
    )
    return worker_env


def test_it_refuses_what_twilio_would_refuse(prism: str, worker_env: WorkerEnv) -> None:
    sid = worker_env.values["TWILIO_ACCOUNT_SID"]
    answer = requests.post(
        f"{prism}/2010-04-01/Accounts/{sid}/Messages.json",
        data={"From": "+17275550199", "Body": "no To"},
        auth=(sid, "test-auth-token"),
        timeout=10,
    )
    assert answer.status_code == 422 and "'To'" in answer.text


def test_it_sends_sms_twilio_accepts(via_prism: WorkerEnv, redis_conn: Redis) -> None:
    sid = Outbound(via_prism.settings, make_store(redis_conn)).send_sms(STAFF_1, "Hello")
    assert sid.startswith("SM")


def test_it_sends_whatsapp_the_way_twilio_accepts(via_prism: WorkerEnv, redis_conn: Redis) -> None:
    """Issue 13: a free-form WhatsApp message within the 24 hours, and the Content API template
    (ContentSid, ContentVariables) outside them, as Twilio's schema allows."""
    via_prism.set(WHATSAPP_FROM="whatsapp:+14155238886", WHATSAPP_TEMPLATE_SID="HX" + "ab" * 16)
    store = make_store(redis_conn)
    outbound = Outbound(via_prism.settings, store)
    template = outbound.send_whatsapp("+13125550166", "Hi Sam")  # no message from them yet
    store.note_inbound("whatsapp", "+13125550166", datetime.now(UTC))
    free = outbound.send_whatsapp("+13125550166", "Hi Sam")
    assert (template.kind, free.kind) == ("template", "free-form")
    assert template.sid.startswith("SM") and free.sid.startswith("SM")


def test_it_makes_every_kind_of_twilio_call_the_way_twilio_accepts(
    via_prism: WorkerEnv, redis_conn: Redis
) -> None:
    store = make_store(redis_conn)
    urgent = new_task(kind="crisis")
    caller = new_task(channel="voice", language="es", text_ok=True)
    for task in (urgent, caller):
        enqueue_task(redis_conn, task)
    work(redis_conn)  # new-task texts to staff, and the caller's confirmation
    queue = JobQueue(URGENT_QUEUE, connection=redis_conn)
    for level in (1, 2):  # the escalations, without waiting for them
        queue.enqueue("workers.jobs.escalate", urgent.id, level)
    store.save_staff(StaffAccount(email="ana@center.org", password_hash="-", phone=OWNER_PHONE))
    due = datetime.now(UTC) + timedelta(hours=1)
    store.change_task(caller.id, "claim", "ana@center.org", datetime.now(UTC))
    store.change_task(caller.id, "reschedule", "ana@center.org", datetime.now(UTC), when=due)
    store.change_task(caller.id, "claim", "ana@center.org", datetime.now(UTC))
    queue.enqueue(
        "workers.jobs.remind_owner", caller.id, digest("ana@center.org", TEST_LOOKUP_KEY), iso(due)
    )
    work(redis_conn)

    sent: dict[str, list[str]] = {}
    for name in (URGENT_QUEUE, DEFAULT_QUEUE):
        q = JobQueue(name, connection=redis_conn)
        assert FailedJobRegistry(queue=q).get_job_ids() == []
        for job_id in q.finished_job_registry.get_job_ids():
            job = fetch_job(job_id, redis_conn)
            assert job.get_status() == JobStatus.FINISHED
            result = job.return_value()
            if isinstance(result, str) and result.startswith("SM"):  # Twilio's message SID
                sent.setdefault(str(job.func_name), []).append(job_id)
    assert sorted((func, len(ids)) for func, ids in sent.items()) == [
        ("workers.jobs.confirm_to_caller", 1),
        (STAFF_SMS_JOB, 4 + 2 + 1),  # new (2 tasks x 2), escalation 1 (2), escalation 2 (1)
        ("workers.jobs.remind_owner", 1),
    ]


def test_it_looks_up_an_interrupted_send_the_way_twilio_accepts(
    via_prism: WorkerEnv, redis_conn: Redis
) -> None:
    answers: list[tuple[str, int, str]] = []

    class Recording(RebasedTwilioHttpClient):  # type: ignore[misc]
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
            response = super().request(method, url, *args, **kwargs)
            answers.append((method, response.status_code, response.text))
            return response

    store = make_store(redis_conn)
    store.send_intended("notify-sms-abc", time.time() - 60)  # cut short a minute ago
    client = Recording(via_prism.settings.twilio_api_base_url)

    try:
        Outbound(via_prism.settings, store, http_client=client).send_sms(
            STAFF_1, "Hello", "notify-sms-abc"
        )
    except TransportError:
        pass  # Prism's generated list page breaks Twilio's own schema (uri formats): see below

    method, status, text = answers[0]
    assert method == "GET"
    if status != 200:  # only Prism's made-up answer may be wrong, never our request
        places = {v["location"][0] for v in json.loads(text)["validation"]}
        assert places == {"response"}, text


def test_it_configures_the_number_the_way_twilio_accepts(prism: str, worker_env: WorkerEnv) -> None:
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    from intake.twilio_number import NumberSetupError, configure_number, update_number, wanted

    answers: list[tuple[str, str, int, str]] = []

    class Recording(RebasedTwilioHttpClient):  # type: ignore[misc]
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
            response = super().request(method, url, *args, **kwargs)
            answers.append((method, url, response.status_code, response.text))
            return response

    worker_env.set(TWILIO_API_BASE_URL=prism)
    settings = worker_env.settings
    http = Recording(prism)
    try:
        configure_number(settings, http_client=http)
    except NumberSetupError:
        pass  # Prism's made-up page holds some other number, or breaks Twilio's own schema
    method, url, status, text = answers[0]
    assert method == "GET" and "/IncomingPhoneNumbers.json" in url
    if status != 200:  # only Prism's made-up answer may be wrong, never our request
        places = {v["location"][0] for v in json.loads(text)["validation"]}
        assert places == {"response"}, text

    client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)
    try:
        update_number(client, "PN" + "0" * 32, wanted(settings.public_base_url))
    except TwilioRestException:
        pass  # the same: Prism's made-up number breaks the schema's own patterns
    method, url, status, text = answers[-1]
    assert method == "POST" and url.endswith(f"/IncomingPhoneNumbers/PN{'0' * 32}.json")
    if status != 200:
        places = {v["location"][0] for v in json.loads(text)["validation"]}
        assert places == {"response"}, text
