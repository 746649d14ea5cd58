"""Server-side staff sessions: the cookie carries a random id, the record lives in Redis."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flask import Flask, Request, Response, request
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface, SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from ...store import Store

ANONYMOUS_COOKIE = "staff_anonymous"
ANONYMOUS_MAX_AGE = 24 * 3600  # it holds a CSRF token (which has its own limit) and flashes
SERIALIZER = TaggedJSONSerializer()  # what Flask's own cookie sessions use (bytes, Markup...)


def digest(session_id: str) -> str:
    """The Redis name of a session: a dump of Redis holds no cookie anyone could replay."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class StaffSession(CallbackDict[str, Any], SessionMixin):
    """The session dict, its id, and whether it needs a fresh id (after sign-in)."""

    def __init__(self, initial: dict[str, Any] | None = None, sid: str | None = None) -> None:
        def changed(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial, changed)
        self.sid = sid
        self.modified = False

    @property
    def new(self) -> bool:  # type: ignore[override]
        return self.sid is None

    def regenerate(self) -> None:
        """Drop this record and start a new id: a session id known before sign-in is worthless."""
        self.old_sid = self.sid
        self.sid = None
        self.modified = True


class RedisSessionInterface(SessionInterface):
    """Signed in: Flask's session in Redis under the SHA-256 of a random id, for the idle time.

    Before sign-in (the form's CSRF token, a flash) it stays in a signed cookie of its own, as
    Flask keeps it: a flood of sign-in pages must not fill Redis.
    """

    def __init__(self, store: Store, ttl_seconds: int) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self.anonymous = SecureCookieSessionInterface()
        self.anonymous.salt = "staff-anonymous-session"

    def open_session(self, app: Flask, request: Request) -> StaffSession:
        path = self.get_cookie_path(app)
        if not request.path.startswith(path):
            return StaffSession()  # a webhook: never a session, never a Redis read for one
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid and 20 <= len(sid) <= 100:
            raw = self.store.load_staff_session(digest(sid))
            if raw is not None:
                return StaffSession(SERIALIZER.loads(raw.decode()), sid=sid)
        signed = request.cookies.get(ANONYMOUS_COOKIE)
        signer = self.anonymous.get_signing_serializer(app)
        if signed and signer is not None:
            try:
                data = signer.loads(signed, max_age=ANONYMOUS_MAX_AGE)
            except Exception:  # itsdangerous' BadSignature: tampered with or too old
                data = None
            if isinstance(data, dict):
                return StaffSession(data)
        return StaffSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, StaffSession)
        path = self.get_cookie_path(app)
        if not request.path.startswith(path):
            return  # a webhook: it had no session and gets no cookie
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        cookie = {
            "httponly": self.get_cookie_httponly(app),
            "domain": domain,
            "path": path,
            "secure": self.get_cookie_secure(app),
            "samesite": self.get_cookie_samesite(app),
        }
        old = getattr(session, "old_sid", None)
        if old:
            self.store.delete_staff_session(digest(old))
        if session.accessed:
            response.vary.add("Cookie")
        had_anonymous = ANONYMOUS_COOKIE in request.cookies
        if "_user_id" not in session:
            if session.sid:  # signed out: the record and its cookie go
                self.store.delete_staff_session(digest(session.sid))
            if session.sid or old:
                response.delete_cookie(name, domain=domain, path=path)
            if not session:
                if had_anonymous:
                    response.delete_cookie(ANONYMOUS_COOKIE, domain=domain, path=path)
                return
            if session.modified or session.sid or old or not had_anonymous:
                signer = self.anonymous.get_signing_serializer(app)
                assert signer is not None
                response.set_cookie(ANONYMOUS_COOKIE, signer.dumps(dict(session)), **cookie)
            return
        if had_anonymous:
            response.delete_cookie(ANONYMOUS_COOKIE, domain=domain, path=path)
        if not (session.modified or self.should_set_cookie(app, session)):
            return
        new = session.sid is None
        if new:
            session.sid = secrets.token_urlsafe(32)
        assert session.sid is not None
        self.store.save_staff_session(
            digest(session.sid),
            SERIALIZER.dumps(dict(session)).encode(),
            self.ttl_seconds,
            email=session["_user_id"],
            new=new,
        )
        response.set_cookie(
            name, session.sid, expires=self.get_expiration_time(app, session), **cookie
        )
