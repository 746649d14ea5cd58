"""Every setting, read from the environment in one place (listed in .env.example)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent
CENTER_PHONE = "+17273917001"  # the number in the center's article
# While `make run` runs its own Redis, its URL is here, for the CLI when REDIS_URL is unset.
DEV_REDIS_URL_FILE = Path("var") / "dev-redis.url"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def _phone(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    raw = env.get(name) or default
    if not raw:
        raise ConfigError(f"{name} is required: a phone number such as +17273917001")
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ConfigError(f"{name} is not a valid phone number: use E.164, e.g. +17273917001")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _required(env: Mapping[str, str], name: str, hint: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required: {hint}")
    return value


def flow_settings(environ: Mapping[str, str] | None = None) -> tuple[Path, str, str]:
    """What the flows need, and only that: FLOWS_DIR, ADMISSIONS_PHONE, PROGRAM_NAME."""
    if environ is None:
        load_dotenv(Path.cwd() / ".env")
    env = os.environ if environ is None else environ
    flows_dir = Path(env.get("FLOWS_DIR") or ROOT / "flows")
    if not flows_dir.is_dir():
        raise ConfigError(f"FLOWS_DIR {str(flows_dir)!r} is not a directory")
    program = (env.get("PROGRAM_NAME") or "Helpline").strip()
    return flows_dir, _phone(env, "ADMISSIONS_PHONE", CENTER_PHONE), program


def envint(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def envbool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _base_url(env: Mapping[str, str]) -> str:
    raw = _required(
        env, "PUBLIC_BASE_URL", "the scheme and host Twilio calls, e.g. https://intake.example.org"
    )
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path not in ("", "/"):
        raise ConfigError(
            "PUBLIC_BASE_URL must be a scheme and host such as https://intake.example.org, "
            f"got {raw!r}"
        )
    return f"{parsed.scheme}://{parsed.netloc}"


def _redis_url(env: Mapping[str, str]) -> str:
    raw = _required(env, "REDIS_URL", "e.g. redis://127.0.0.1:6379/0 (make run starts one for you)")
    if urlparse(raw).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Typed, validated configuration."""

    redis_url: str
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_phone_number: str
    public_base_url: str
    admissions_phone: str
    secret_key: str
    session_ttl_seconds: int = 24 * 3600
    redis_timeout_seconds: float = 5.0
    program_name: str = "Helpline"
    flows_dir: Path = ROOT / "flows"
    log_level: str = "INFO"
    admissions_dial_number: str = CENTER_PHONE
    business_days: frozenset[int] = frozenset(range(5))  # Monday is 0
    business_open: time = time(8, 0)
    business_close: time = time(20, 0)
    business_timezone: ZoneInfo = ZoneInfo("America/New_York")
    dial_timeout_seconds: int = 20
    voice_en: str = "Polly.Joanna-Neural"
    voice_es: str = "Polly.Lupe-Neural"
    # staff notifications and escalation
    twilio_api_base_url: str = "https://api.twilio.com"
    staff_notify_numbers: tuple[str, ...] = ()
    escalation_numbers: tuple[str, ...] = ()
    staff_notify_emails: tuple[str, ...] = ()
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_starttls: bool = True
    crm_webhook_url: str = ""
    crm_webhook_secret: str = ""
    crm_payload: str = "minimal"  # "minimal": task id, priority, link; "full": every task field
    # texts one number may get from us per day (the center's calendar day); 0: no limit
    outbound_daily_limit_per_number: int = 5
    urgent_claim_minutes: float = 5.0
    normal_claim_minutes: float = 60.0
    # staff dashboard
    staff_idle_minutes: int = 30
    # sign-in throttle, per account and client: free failures, then 2, 4, 8... s, up to the cap
    login_free_failures: int = 5
    login_max_delay_seconds: int = 300
    trusted_proxies: int = 0  # reverse proxies whose X-Forwarded-For/-Proto we believe
    # data at rest and in flight: Fernet keys, newest first; the local spool for Redis outages
    encryption_keys: tuple[str, ...] = ()
    lookup_key: str = ""  # keys the HMAC that stands for a phone number in Redis key names
    failed_job_ttl_days: int = 7  # how long RQ keeps a failed job (and its arguments)
    spool_dir: Path = Path("var/spool")
    # the trained intent classifier, kept by a hash of its data so a restart need not retrain
    model_cache_dir: Path = Path("var/cache")
    # webhooks
    inbound_limit_per_minute: int = 20  # texts (or calls) per number per minute; 0: no limit
    # retention: done tasks (and what is kept for them) go this many days after closing; 0: never
    retention_days: int = 30
    # operations: who may read /metrics (a bearer token, or these networks), and the log format
    metrics_token: str = ""
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    log_format: str = "text"  # "json": one JSON object per line, with the request id
    # development only: the phone simulator at /simulator (404 unless on)
    simulator_enabled: bool = False
    # WhatsApp: the sender ("whatsapp:+1..."; "" sends nothing on WhatsApp) and the approved
    # Content API template (HX...) used outside the 24 hours after a person's last message
    whatsapp_from: str = ""
    whatsapp_template_sid: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check every variable; raise ConfigError naming the first bad one."""
        if environ is None:
            load_dotenv(Path.cwd() / ".env")  # never overrides what the environment already says
        env = os.environ if environ is None else environ
        sid = _required(
            env, "TWILIO_ACCOUNT_SID", "your Twilio Account SID (AC followed by 32 hex)"
        )
        if not re.fullmatch(r"AC[0-9a-fA-F]{32}", sid):
            raise ConfigError("TWILIO_ACCOUNT_SID must be AC followed by 32 hexadecimal characters")
        secret = _required(env, "SECRET_KEY", "a long random string (make run generates one)")
        if len(secret) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters")
        flows_dir, admissions, program = flow_settings(env)
        log_level = (env.get("LOG_LEVEL") or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
        opens, closes = _hours(env, "BUSINESS_HOURS", "08:00-20:00")
        return cls(
            redis_url=_redis_url(env),
            twilio_account_sid=sid,
            twilio_auth_token=_required(env, "TWILIO_AUTH_TOKEN", "your Twilio Auth Token"),
            twilio_phone_number=_phone(env, "TWILIO_PHONE_NUMBER"),
            public_base_url=_base_url(env),
            admissions_phone=admissions,
            secret_key=secret,
            session_ttl_seconds=envint(env, "SESSION_TTL_SECONDS", 24 * 3600, minimum=60),
            redis_timeout_seconds=envfloat(env, "REDIS_TIMEOUT_SECONDS", 5.0),
            program_name=program,
            flows_dir=flows_dir,
            log_level=log_level,
            admissions_dial_number=_phone(env, "ADMISSIONS_DIAL_NUMBER", admissions),
            business_days=_days(env, "BUSINESS_DAYS", "mon-fri"),
            business_open=opens,
            business_close=closes,
            business_timezone=timezone(env, "BUSINESS_TIMEZONE", "America/New_York"),
            dial_timeout_seconds=envint(env, "DIAL_TIMEOUT_SECONDS", 20, minimum=5),
            voice_en=(env.get("VOICE_EN") or "Polly.Joanna-Neural").strip(),
            voice_es=(env.get("VOICE_ES") or "Polly.Lupe-Neural").strip(),
            twilio_api_base_url=_url(env, "TWILIO_API_BASE_URL", "https://api.twilio.com"),
            staff_notify_numbers=_phones(env, "STAFF_NOTIFY_NUMBERS"),
            escalation_numbers=_phones(env, "ESCALATION_NUMBERS"),
            staff_notify_emails=_emails(env, "STAFF_NOTIFY_EMAILS"),
            smtp_host=(env.get("SMTP_HOST") or "").strip(),
            smtp_port=envint(env, "SMTP_PORT", 587, minimum=1),
            smtp_username=(env.get("SMTP_USERNAME") or "").strip(),
            smtp_password=env.get("SMTP_PASSWORD") or "",
            smtp_from=_smtp_from(env),
            smtp_starttls=envbool(env, "SMTP_STARTTLS", True),
            crm_webhook_url=_crm_url(env, "CRM_WEBHOOK_URL"),
            crm_webhook_secret=_crm_secret(env),
            crm_payload=_choice(env, "CRM_PAYLOAD", ("minimal", "full")),
            outbound_daily_limit_per_number=envint(env, "OUTBOUND_DAILY_LIMIT_PER_NUMBER", 5),
            urgent_claim_minutes=envfloat(env, "URGENT_CLAIM_MINUTES", 5.0),
            normal_claim_minutes=envfloat(env, "NORMAL_CLAIM_MINUTES", 60.0),
            staff_idle_minutes=envint(env, "STAFF_IDLE_MINUTES", 30, minimum=1),
            login_free_failures=envint(env, "LOGIN_FREE_FAILURES", 5),
            login_max_delay_seconds=envint(env, "LOGIN_MAX_DELAY_SECONDS", 300, minimum=1),
            trusted_proxies=envint(env, "TRUSTED_PROXIES", 0),
            encryption_keys=_fernet_keys(env, "ENCRYPTION_KEYS"),
            lookup_key=_lookup_key(env, "LOOKUP_KEY"),
            failed_job_ttl_days=envint(env, "FAILED_JOB_TTL_DAYS", 7, minimum=1),
            spool_dir=Path((env.get("SPOOL_DIR") or "var/spool").strip()),
            model_cache_dir=Path((env.get("MODEL_CACHE_DIR") or "var/cache").strip()),
            inbound_limit_per_minute=envint(env, "INBOUND_LIMIT_PER_MINUTE", 20),
            retention_days=envint(env, "RETENTION_DAYS", 30),
            metrics_token=_metrics_token(env),
            metrics_allow=_networks(env, "METRICS_ALLOW", "127.0.0.1/32,::1/128"),
            log_format=_choice(env, "LOG_FORMAT", ("text", "json")),
            simulator_enabled=envbool(env, "SIMULATOR_ENABLED", False),
            whatsapp_from=_whatsapp_from(env, "WHATSAPP_FROM"),
            whatsapp_template_sid=_content_sid(env, "WHATSAPP_TEMPLATE_SID"),
        )

    def voice_for(self, language: str) -> str:
        """The text-to-speech voice for a language."""
        return self.voice_es if language == "es" else self.voice_en

    def admissions_open(self, now: datetime) -> bool:
        """Whether admissions takes live calls at `now` (an aware datetime)."""
        local = now.astimezone(self.business_timezone)
        return (
            local.weekday() in self.business_days
            and self.business_open <= local.time().replace(tzinfo=None) < self.business_close
        )


def envfloat(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be more than 0, got {raw!r}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = (env.get(name) or default).strip()
    if raw and (urlparse(raw).scheme not in ("http", "https") or not urlparse(raw).netloc):
        raise ConfigError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _phones(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of phone numbers, each checked."""
    raw = env.get(name, "")
    return tuple(_phone({name: part.strip()}, name) for part in raw.split(",") if part.strip())


def _whatsapp_from(env: Mapping[str, str], name: str) -> str:
    """The WhatsApp sender as Twilio names it, "whatsapp:+E164"; a bare number is accepted."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return ""
    number = raw.split(":", 1)[1] if raw.lower().startswith("whatsapp:") else raw
    return "whatsapp:" + _phone({name: number}, name)


def _content_sid(env: Mapping[str, str], name: str) -> str:
    raw = (env.get(name) or "").strip()
    if raw and not re.fullmatch(r"HX[0-9a-fA-F]{32}", raw):
        raise ConfigError(f"{name} must be a Content SID: HX followed by 32 hexadecimal characters")
    return raw


def _emails(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    parts = [p.strip() for p in env.get(name, "").split(",") if p.strip()]
    for part in parts:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", part):
            raise ConfigError(f"{name} has an invalid email address: {part!r}")
    return tuple(parts)


def _smtp_from(env: Mapping[str, str]) -> str:
    value = (env.get("SMTP_FROM") or "").strip()
    if env.get("SMTP_HOST", "").strip() and not value:
        raise ConfigError("SMTP_FROM is required when SMTP_HOST is set: the sender address")
    return value


def _fernet_keys(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated Fernet keys (32 bytes, url-safe base64), newest first."""
    keys = tuple(k.strip() for k in env.get(name, "").split(",") if k.strip())
    if not keys:
        raise ConfigError(f"{name} is required: a Fernet key (make run generates one)")
    for position, key in enumerate(keys, start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (ValueError, binascii.Error):
            valid = False
        if not valid:
            raise ConfigError(
                f"{name}: key {position} is not a Fernet key (32 bytes, url-safe base64)"
            )
    return keys


def _lookup_key(env: Mapping[str, str], name: str) -> str:
    """A secret of at least 32 characters; changing it forgets every opt-out and session."""
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"{name} is required: a random string of 32+ characters (make run generates one)"
        )
    if len(value) < 32:
        raise ConfigError(f"{name} must be at least 32 characters, got {len(value)}")
    return value


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _crm_url(env: Mapping[str, str], name: str) -> str:
    """https, except to this machine (development and tests: a CRM stand-in on localhost)."""
    url = _url(env, name, "")
    parsed = urlparse(url)
    if url and parsed.scheme != "https" and parsed.hostname not in LOOPBACK_HOSTS:
        # Only the host: a URL's path or query may hold a token.
        raise ConfigError(
            f"{name} must be an https URL (http only to localhost), got http://{parsed.hostname}"
        )
    return url


def _metrics_token(env: Mapping[str, str]) -> str:
    token = (env.get("METRICS_TOKEN") or "").strip()
    if token and len(token) < 16:
        raise ConfigError("METRICS_TOKEN must be at least 16 characters, or empty")
    return token


def _networks(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    """Addresses or networks (CIDR), comma-separated; "" allows none."""
    raw = env.get(name)
    items = [i.strip() for i in (default if raw is None else raw).split(",") if i.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"{name} must list addresses or networks, got {item!r}") from None
    return tuple(items)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, the first by default."""
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{name} must be {' or '.join(choices)}, got {raw!r}")
    return raw


def _crm_secret(env: Mapping[str, str]) -> str:
    value = env.get("CRM_WEBHOOK_SECRET", "")
    if env.get("CRM_WEBHOOK_URL", "").strip() and len(value) < 16:
        raise ConfigError(
            "CRM_WEBHOOK_SECRET is required when CRM_WEBHOOK_URL is set (at least 16 characters)"
        )
    return value


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _days(env: Mapping[str, str], name: str, default: str) -> frozenset[int]:
    """'mon-fri', 'mon,wed,fri', 'sat-sun' or 'all'."""
    raw = (env.get(name) or default).strip().lower()
    if raw == "all":
        return frozenset(range(7))
    days: set[int] = set()
    for part in raw.split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ConfigError(f"{name} must look like mon-fri or mon,wed,fri or all, got {raw!r}")
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def _hours(env: Mapping[str, str], name: str, default: str) -> tuple[time, time]:
    """'08:00-20:00' in the business time zone; closing must come after opening."""
    raw = (env.get(name) or default).strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", raw)
    try:
        if not match:
            raise ValueError
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        opens = time(h1, m1)
        closes = time(23, 59, 59) if (h2, m2) == (24, 0) else time(h2, m2)
    except ValueError:
        raise ConfigError(f"{name} must look like 08:00-20:00, got {raw!r}") from None
    if closes <= opens:
        raise ConfigError(f"{name} must close after it opens, got {raw!r}")
    return opens, closes


def timezone(env: Mapping[str, str], name: str, default: str) -> ZoneInfo:
    raw = env.get(name) or default
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} is not a known time zone, got {raw!r}") from None
