"""Staff sign-in: password check, throttling per account and client, the signed-in user."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import time

from flask import current_app, session
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from ...config import Settings
from ...store import StaffAccount, Store

log = logging.getLogger(__name__)

WRONG = "Wrong email or password."


class SignInRefused(Exception):
    """Sign-in refused; the message is safe to show and never says whether an account exists."""

    def __init__(self, message: str, wait: float = 0.0) -> None:
        super().__init__(message)
        self.wait = wait  # seconds before this client may try this account again, when throttled


class User(UserMixin):
    """A signed-in staff member; the id is the lower-cased email."""

    def __init__(self, account: StaffAccount) -> None:
        self.account = account

    def get_id(self) -> str:
        return self.account.email.lower()

    @property
    def email(self) -> str:
        return self.account.email.lower()

    @property
    def role(self) -> str:
        return self.account.role


def password_mark(account: StaffAccount) -> str:
    """A short digest of the password hash: a new password ends the sessions made with the old."""
    return hashlib.sha256(account.password_hash.encode()).hexdigest()[:16]


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the account must still exist, enabled, with the same password."""
    store: Store = current_app.extensions["intake"].store
    account = store.get_staff(user_id)
    if (
        account is None
        or account.disabled
        or session.get("password_mark") != password_mark(account)
    ):
        return None
    return User(account)


def throttle_digest(settings: Settings, email: str, client: str) -> str:
    """Names one account+client's throttle record; keyed, so Redis shows neither."""
    message = f"{email.strip().lower()}\n{client}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def client_of(address: str | None) -> str:
    """Who is signing in, as far as the address tells: an IPv6 client owns its whole /64."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "-"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


DEVICE_COOKIE = "staff_device"
DEVICE_DAYS = 90


def _device_mac(settings: Settings, email: str, nonce: str, issued: str) -> str:
    message = f"staff-device\n{email.strip().lower()}\n{nonce}\n{issued}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def device_cookie(settings: Settings, email: str, now: float | None = None) -> str:
    """A signed token naming this browser as one `email` has signed in from (no email in it)."""
    nonce, issued = secrets.token_urlsafe(16), str(int(now or time.time()))
    return f"{nonce}.{issued}.{_device_mac(settings, email, nonce, issued)}"


def sign_in_client(settings: Settings, email: str, address: str | None, device: str | None) -> str:
    """Whose tries these are: a browser this account signed in from before is a client of its
    own (OWASP's device cookies), so nobody sharing its address (an office, a load balancer
    without TRUSTED_PROXIES) can slow its owner down; anyone else is their address."""
    nonce, _, rest = (device or "").partition(".")
    issued, _, mac = rest.partition(".")
    if nonce and issued.isdigit() and time.time() - int(issued) < DEVICE_DAYS * 86400:
        expected = _device_mac(settings, email, nonce, issued)
        if hmac.compare_digest(mac.encode(), expected.encode()):  # a cookie may hold anything
            return f"device:{nonce}"
    return client_of(address)


def wait_message(seconds: float) -> str:
    """What a throttled client hears, whether or not the account exists."""
    return (
        "Too many failed sign-ins for this account from here. "
        f"Try again in {math.ceil(seconds)} seconds."
    )


@functools.cache
def _decoy_hash() -> str:
    return generate_password_hash("a password nobody has")


def authenticate(
    store: Store, settings: Settings, email: str, password: str, client: str
) -> StaffAccount:
    """The account for these credentials, or SignInRefused.

    Failures slow down this account from this client only (2, 4, 8... s after the free ones):
    nobody can lock anyone out, and the real user elsewhere still signs in. Known and unknown
    emails go the same way, with the same answers and the same work.
    """
    email = email.strip().lower()
    digest = throttle_digest(settings, email, client)
    wait = store.login_wait(digest, time.time())
    if wait > 0:
        # No password check while waiting: a wait costs the server nothing.
        log.info("staff sign-in throttled")
        raise SignInRefused(wait_message(wait), wait)
    account = store.get_staff(email)
    # Hash even for an unknown email, so both answers take as long.
    matches = check_password_hash(account.password_hash if account else _decoy_hash(), password)
    if account is None or account.disabled or not matches:
        remember = max(3600, 2 * settings.login_max_delay_seconds)
        failures, delay = store.login_failed(
            digest,
            time.time(),
            settings.login_free_failures,
            settings.login_max_delay_seconds,
            remember,
        )
        log.info("staff sign-in failed (%d in a row from this client)", failures)
        raise SignInRefused(WRONG if delay == 0 else f"{WRONG} {wait_message(delay)}")
    store.login_succeeded(digest)
    return account
