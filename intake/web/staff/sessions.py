"""Server-side staff sessions: the cookie carries a random id, the record lives in Redis."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flask import Flask, Request, Response
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from ...store import Store

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
    """Flask's session, kept in Redis under the SHA-256 of a random id, for the idle time."""

    def __init__(self, store: Store, ttl_seconds: int) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds

    def open_session(self, app: Flask, request: Request) -> StaffSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        # Only the dashboard reads Redis for a session: a webhook must not depend on it.
        staff = request.path.startswith(self.get_cookie_path(app))
        if sid and staff and 20 <= len(sid) <= 100:
            raw = self.store.load_staff_session(digest(sid))
            if raw is not None:
                return StaffSession(SERIALIZER.loads(raw.decode()), sid=sid)
        return StaffSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, StaffSession)
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        old = getattr(session, "old_sid", None)
        if old:
            self.store.delete_staff_session(digest(old))
        if not session:
            if session.sid:
                self.store.delete_staff_session(digest(session.sid))
            if session.sid or old:
                response.delete_cookie(name, domain=domain, path=path)
            return
        if session.accessed:
            response.vary.add("Cookie")
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
            email=session.get("_user_id"),
            new=new,
        )
        response.set_cookie(
            name,
            session.sid,
            expires=self.get_expiration_time(app, session),
            httponly=self.get_cookie_httponly(app),
            domain=domain,
            path=path,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )
