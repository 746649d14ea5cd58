"""X-Twilio-Signature validation for every webhook; never switched off."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request
from twilio.request_validator import RequestValidator, compare

from .body_limit import EMPTY_TWIML

log = logging.getLogger(__name__)


def public_url() -> str:
    """The URL Twilio called: PUBLIC_BASE_URL plus the request path and query."""
    base = current_app.extensions["intake"].settings.public_base_url
    query = request.query_string.decode()
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def _valid(validator: RequestValidator, url: str, signature: str) -> bool:
    """Twilio's check; the URL as configured first, which is the one Twilio signs: `validate`
    always works out two signatures (the URL with and without its port) and a body hash."""
    form = request.form
    if "bodySHA256" not in request.args:  # a JSON body is signed with its hash: validate's job
        if compare(validator.compute_signature(url, form), signature):  # twilio's, as validate
            return True
    return bool(validator.validate(url, form, signature))


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse (403) any request whose signature does not match; the view never runs."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = current_app.extensions["intake"].settings
        signature = request.headers.get("X-Twilio-Signature", "")
        validator = RequestValidator(settings.twilio_auth_token)
        if not signature or not _valid(validator, public_url(), signature):
            log.warning("rejected %s: bad or missing X-Twilio-Signature", request.path)
            # Still TwiML, like every answer on a webhook route; the log says why.
            return Response(EMPTY_TWIML, status=403, mimetype="application/xml")
        return view(*args, **kwargs)

    return wrapper
