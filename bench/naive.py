"""The naive handler for `make bench-load`: what a typical webhook does, and no more.

Twilio's RequestValidator checks the signature, then three Redis calls one after another (the
dedupe mark, the session read, the session write), then fixed TwiML. No lock, no encryption,
no language layer, no flow. The voice answer holds a Gather the load generator follows.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request
from redis import Redis
from twilio.request_validator import RequestValidator

from bench.floor import SMS, VOICE

BASE = os.environ["PUBLIC_BASE_URL"]
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
redis = Redis.from_url(os.environ["REDIS_URL"])
app = Flask(__name__)


def handle(answer: str) -> Response:
    query = request.query_string.decode()
    url = BASE + request.path + (f"?{query}" if query else "")
    if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
        return Response("", status=403)
    sender = request.form.get("From", "")
    sid = request.form.get("MessageSid") or request.form.get("CallSid", "")
    redis.set(f"naive:seen:{sid}:{request.form.get('Digits', '')}", 1, nx=True, ex=3600)
    session = redis.get(f"naive:session:{sender}") or b""
    redis.set(f"naive:session:{sender}", session[-50:] + b"+", ex=3600)
    return Response(answer, mimetype="application/xml")


@app.post("/sms")
def sms() -> Response:
    return handle(SMS)


@app.post("/voice")
@app.post("/voice/input")
def voice() -> Response:
    return handle(VOICE)


@app.get("/healthz")
def healthz() -> str:
    return "ok"
