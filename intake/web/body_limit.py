"""A cap on request bodies, enforced before anything reads or parses them, and a refusal of
request lines no HTTP server would pass on."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

MAX_BODY_BYTES = 64 * 1024  # Twilio's webhook bodies are a few KB; a staff form less
WEBHOOK_PREFIXES = ("/sms", "/voice")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
TOO_LARGE_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Too large</title></head>"
    "<body><h1>Request too large</h1><p>That was more than this page accepts. "
    "Go back and try again with less.</p></body></html>"
)
BAD_REQUEST_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Bad request</title></head>"
    "<body><h1>Bad request</h1><p>That address could not be read. "
    '<a href="/staff/">Go to the task list</a>.</p></body></html>'
)


def is_webhook(path: str) -> bool:
    """Twilio's routes, which must always get TwiML back."""
    return any(path == p or path.startswith(p + "/") for p in WEBHOOK_PREFIXES)


def too_large(path: str, headers: Mapping[str, str] | None = None) -> Response:
    """413 as the caller understands it: empty TwiML for Twilio, a plain page for people.

    `headers`: added to the answer (the security headers: Flask's hooks never see this one).
    """
    return _refusal(path, 413, TOO_LARGE_PAGE, headers)


def bad_request(path: str, headers: Mapping[str, str] | None = None) -> Response:
    """400 for a path or query string with a raw line break, in the same two forms."""
    return _refusal(path, 400, BAD_REQUEST_PAGE, headers)


def _refusal(path: str, status: int, page: str, headers: Mapping[str, str] | None) -> Response:
    if is_webhook(path):
        response = Response(EMPTY_TWIML, status=status, mimetype="application/xml")
    else:
        response = Response(page, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


class BodyLimit:
    """WSGI middleware: the app only ever sees a body of at most `max_bytes`, with a true
    Content-Length. A longer declared length is refused unread; a body without one (chunked)
    is read up to the cap, and refused once it goes past it."""

    def __init__(
        self,
        app: WSGIApplication,
        max_bytes: int = MAX_BODY_BYTES,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.headers = dict(headers or {})

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if _has_line_break(path) or _has_line_break(environ.get("QUERY_STRING", "")):
            # HTTP servers refuse these, but an app reached another way must not 500: werkzeug
            # would copy them into a redirect's Location header (/staff -> /staff/) and raise.
            broken: Iterable[bytes] = bad_request(path, self.headers)(environ, start_response)
            return broken
        declared = _content_length(environ)
        if declared is None and environ.get("wsgi.input_terminated"):
            # Chunked: the server marks a stream that ends by itself (otherwise there is no
            # body, and reading a raw socket could wait for ever).
            body = _read_at_most(environ["wsgi.input"], self.max_bytes + 1)
            declared = len(body)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(declared)
        if declared is not None and declared > self.max_bytes:
            refused: Iterable[bytes] = too_large(path, self.headers)(environ, start_response)
            return refused
        return self.app(environ, start_response)


def _has_line_break(text: str) -> bool:
    return "\n" in text or "\r" in text


def _content_length(environ: WSGIEnvironment) -> int | None:
    raw = environ.get("CONTENT_LENGTH", "")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _read_at_most(stream: Any, limit: int) -> bytes:
    """Up to `limit` bytes, in small reads: never more in memory than that."""
    pieces: list[bytes] = []
    left = limit
    while left > 0:
        piece = stream.read(min(left, 16 * 1024))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)
