"""Staff sign-in: password check, lockout after repeated failures, the signed-in user."""

from __future__ import annotations

import functools
import hashlib
import logging

from flask import current_app, session
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from ...config import Settings
from ...store import StaffAccount, Store

log = logging.getLogger(__name__)

WRONG = "Wrong email or password."


class SignInRefused(Exception):
    """Sign-in refused; the message is safe to show and never says whether an account exists."""


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


def locked_message(settings: Settings) -> str:
    """What a locked account hears, whether or not the account exists."""
    return (
        "Too many failed sign-ins: this account is locked for up to "
        f"{settings.login_lockout_minutes} minutes. Try again later."
    )


@functools.cache
def _decoy_hash() -> str:
    return generate_password_hash("a password nobody has")


def authenticate(store: Store, settings: Settings, email: str, password: str) -> StaffAccount:
    """The account for these credentials, or SignInRefused; counts failures and locks."""
    email = email.strip().lower()
    if store.login_locked(email):
        log.warning("staff sign-in refused: account locked")
        raise SignInRefused(locked_message(settings))
    account = store.get_staff(email)
    # Hash even for an unknown email, so both answers take as long.
    matches = check_password_hash(account.password_hash if account else _decoy_hash(), password)
    if account is None or account.disabled or not matches:
        window = settings.login_lockout_minutes * 60
        failures = store.login_failed(email, window)
        if failures >= settings.login_max_failures:
            store.lock_login(email, window)
            log.warning("staff sign-in locked after %d failures", failures)
            raise SignInRefused(locked_message(settings))
        log.info("staff sign-in failed")
        raise SignInRefused(WRONG)
    store.login_succeeded(email)
    return account
