"""A local CRM that checks each webhook's signature the way the README tells CRMs to."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from .net import LocalServer, QuietHandler

MAX_AGE_SECONDS = 300


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: float) -> str | None:
    """None if the request is authentic and fresh, else why not."""
    if not timestamp.isdigit():
        return "no timestamp"
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return "stale timestamp"
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    if not hmac.compare_digest("sha256=" + mac.hexdigest(), signature):
        return "bad signature"
    return None


@dataclass
class Delivery:
    """One POST as received: whether it verified, and what it said."""

    path: str
    headers: dict[str, str]
    body: bytes
    refused: str | None
    status: int

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class CrmServer:
    """Answers 401 to unverifiable posts; `script(*statuses)` sets the next answers (else 204)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[Delivery] = []
        self._statuses: list[int] = []
        self._lock = threading.Lock()
        self._server = LocalServer(_Handler, self)

    @property
    def url(self) -> str:
        return self._server.url + "/hooks/intake"

    def __enter__(self) -> CrmServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def script(self, *statuses: int) -> None:
        with self._lock:
            self._statuses = list(statuses)

    @property
    def accepted(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.received if 200 <= d.status < 300]

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        refused = verify(
            self.secret,
            headers.get("X-Intake-Timestamp", ""),
            body,
            headers.get("X-Intake-Signature", ""),
            time.time(),
        )
        with self._lock:
            if refused:
                status = 401
            elif self._statuses:
                status = self._statuses.pop(0)
            else:
                status = 204
            self.received.append(Delivery(path, headers, body, refused, status))
        return status


class _Handler(QuietHandler):
    def do_POST(self) -> None:
        crm: CrmServer = self.server.owner  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = crm.answer(self.path, dict(self.headers.items()), body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
