"""Log lines as text or JSON (LOG_FORMAT), each with the id of the request or job it belongs to.

A webhook's request id goes with the job it queues (the job's meta), so one grep follows a
message from the webhook to the worker. Lines never carry more than the code put in them: in
JSON an exception is its type, as in text the app logs errors by type and place.
"""

from __future__ import annotations

import json
import logging
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
# The twilio client logs every request's URL and query string at INFO: a message lookup's
# carries the person's number (To=...). Its warnings and errors still come through.
QUIETED = ("twilio.http_client",)


def new_request_id() -> str:
    return secrets.token_hex(8)


class RequestId(logging.Filter):
    """Stamps each record with the current request or job id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__  # a traceback may quote what a person said
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, fmt: str, loggers: tuple[str, ...] = ()) -> None:
    """Set the root logger (and the handlers of `loggers`, e.g. RQ's own) to `fmt`."""
    logging.basicConfig(level=level, format=TEXT_FORMAT)
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.WARNING)
    targets = [logging.getLogger(), *(logging.getLogger(name) for name in loggers)]
    for logger in targets:
        for handler in logger.handlers:
            if not any(isinstance(f, RequestId) for f in handler.filters):
                handler.addFilter(RequestId())
            if fmt == "json":
                handler.setFormatter(JsonLines())
