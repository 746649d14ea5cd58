"""Security headers on every response: pages, webhooks, static files, errors and 413s."""

from __future__ import annotations

from collections.abc import MutableMapping

from flask import Flask, Response

# For anything that is not a staff page (TwiML, JSON, errors): nothing may load, run or frame it.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(https: bool) -> dict[str, str]:
    """The headers every answer carries; HSTS only when the app is reached over https."""
    headers = {
        "Content-Security-Policy": DEFAULT_CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS form posts.
        "Referrer-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def apply(target: MutableMapping[str, str], https: bool) -> None:
    """Add the headers; a stricter page's own CSP (the staff pages set one) is kept."""
    for name, value in security_headers(https).items():
        if name == "Content-Security-Policy" and name in target:
            continue
        target[name] = value


def init_app(app: Flask, https: bool) -> None:
    """One after_request hook for the whole app; Flask runs it for error handlers' answers too."""

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        apply(response.headers, https)  # type: ignore[arg-type]
        return response
