"""The floor for `make bench-load`: bare Flask answering every webhook with fixed TwiML.

No signature check, no Redis: what gunicorn and Flask cost on their own, on the Procfile's flags.
The voice answer holds a Gather whose action the load generator follows, as it does the app's.
"""

from __future__ import annotations

import os

from flask import Flask, Response

BASE = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1")
SMS = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hi there.</Message></Response>'
VOICE = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    f'<Gather action="{BASE}/voice/input" input="dtmf speech"><Say>Press 1.</Say></Gather>'
    "</Response>"
)

app = Flask(__name__)


@app.post("/sms")
def sms() -> Response:
    return Response(SMS, mimetype="application/xml")


@app.post("/voice")
@app.post("/voice/input")
def voice() -> Response:
    return Response(VOICE, mimetype="application/xml")


@app.get("/healthz")
def healthz() -> str:
    return "ok"
