"""`intake dev`, what `make run` does: .env, an embedded Redis, then the Procfile's processes."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from urllib.parse import urlparse

from dotenv import dotenv_values

from .app import load_flow
from .config import DEV_REDIS_URL_FILE, ROOT, Settings, envint
from .crypto import generate_key
from .devoutbox import DevOutbox
from .redis_server import RedisProcess, RedisStartError, start_redis

DEFAULT_PORT = 8000
DEV_PHONE = "+17275550199"  # fictional 555-01xx numbers that phonenumbers accepts
DEV_ON_CALL = "+17275550198"
READY_TIMEOUT = 120.0  # seconds to wait for /healthz (a first start trains the classifier)
HONCHO_STOP_TIMEOUT = 8.0  # honcho gives its processes 5 s, then kills them
REDIS_CONF = ROOT / "deploy" / "redis.conf"  # the code's own, wherever `intake dev` runs
DEV_HOST = "127.0.0.1"  # only this machine, unless HOST says otherwise (the Procfile: 0.0.0.0)


def run(port: int | None = None, root: Path | None = None) -> int:
    """Start Redis (unless REDIS_URL is set), then web and worker via honcho until Ctrl-C."""
    if root is None:
        root = Path.cwd() if (Path.cwd() / "Procfile").is_file() else ROOT
    if not (root / "Procfile").is_file():
        print(
            f"intake: no Procfile in {root}: run `intake dev` from a clone of the repository",
            file=sys.stderr,
        )
        return 2
    env_file = root / ".env"
    if not env_file.exists():
        first_port = port or envint(os.environ, "PORT", DEFAULT_PORT, minimum=1)
        write_dev_env(env_file, root / ".env.example", first_port)
        print(
            f"Created {env_file.name} with development values (fake Twilio credentials, "
            f"a random SECRET_KEY); edit it to use a real Twilio account."
        )
    add_missing_dev_secrets(env_file)
    env = load_env(env_file)
    # Without --port or PORT, keep to the port in PUBLIC_BASE_URL so `make chat` finds the app.
    port = port or envint(env, "PORT", local_port(env.get("PUBLIC_BASE_URL", "")), minimum=1)
    host = env.get("HOST") or DEV_HOST
    embedded = not env.get("REDIS_URL")
    # The embedded Redis's URL is not known yet; every other setting and the flows are checked now.
    settings = Settings.from_env(
        {**env, "REDIS_URL": env.get("REDIS_URL") or "redis://127.0.0.1/0"}
    )
    load_flow(settings)
    if not port_is_free(port, host):
        print(
            f"intake: port {port} is in use; choose another, e.g. PORT={port + 1} make run",
            file=sys.stderr,
        )
        return 1

    redis: RedisProcess | None = None
    outbox: DevOutbox | None = None
    honcho: subprocess.Popen[bytes] | None = None
    ctrl_c = False
    previous_sigterm = signal.signal(signal.SIGTERM, _terminated)
    give_back_terminal = _nothing
    url_file = root / DEV_REDIS_URL_FILE
    try:
        give_back_terminal = take_foreground()
        if embedded:
            redis = start_embedded_redis(root)
            env["REDIS_URL"] = redis.url
            url_file.write_text(redis.url + "\n")
        if uses_dev_credentials(env):
            # Fake credentials cannot reach Twilio: print what the worker would text instead.
            outbox = DevOutbox().start()
            env["TWILIO_API_BASE_URL"] = outbox.url
        env["PORT"] = str(port)
        env["HOST"] = host
        env["PYTHONUNBUFFERED"] = "1"
        # gunicorn and rq live beside this Python, even when the venv is not activated.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        honcho = subprocess.Popen(
            # -e /dev/null: the environment built here already holds .env, and must win over it.
            [
                sys.executable,
                "-m",
                "honcho",
                "start",
                "-f",
                "Procfile",
                "-e",
                os.devnull,
                "-p",
                str(port),
            ],
            cwd=root,
            env=env,
        )
        if wait_until_up(port, honcho, host):
            print(
                banner(
                    port,
                    settings.public_base_url,
                    env["REDIS_URL"],
                    embedded,
                    simulator=settings.simulator_enabled,
                ),
                flush=True,
            )
        return honcho.wait()
    except RedisStartError as e:
        print(f"intake: could not start the embedded Redis: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Terminated) as e:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup short
        ctrl_c = isinstance(e, KeyboardInterrupt)
        print("\nStopping web, worker and Redis...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if honcho is not None:
            stop_honcho(honcho, ctrl_c)
        if redis is not None:
            url_file.unlink(missing_ok=True)
            redis.stop()
        if outbox is not None:
            outbox.stop()
        give_back_terminal()
        signal.signal(signal.SIGTERM, previous_sigterm)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def start_embedded_redis(root: Path) -> RedisProcess:
    """The Redis of `make run`: deploy/redis.conf (append-only file on), its data in var/redis/."""
    return start_redis(data_dir=root / "var" / "redis", config=REDIS_CONF)


def take_foreground() -> Callable[[], None]:
    """Under `make run`, make our own process group the terminal's foreground; returns a
    function that gives the terminal back.

    Ctrl-C signals the terminal's foreground group. Under make that group is make's, and make,
    interrupted, reports the interrupt as a failure however cleanly we stop. In a group of our
    own (with web, worker and Redis, started after this), Ctrl-C reaches only us; make then
    sees us exit 0. Run from a shell, we already lead our group and nothing changes.
    """
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd) or os.getpgrp() == os.getpid() or os.tcgetpgrp(fd) != os.getpgrp():
            return _nothing
        previous = os.getpgrp()
        os.setpgid(0, 0)
        _set_foreground(fd, os.getpgrp())
    except (OSError, ValueError):  # no terminal (a pipe, closed stdin): nothing to take
        return _nothing
    return lambda: _set_foreground(fd, previous)


def _nothing() -> None:
    pass


def _set_foreground(fd: int, pgrp: int) -> None:
    # A background group changing the foreground is stopped by SIGTTOU unless it ignores it.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, pgrp)
    except OSError:
        pass  # the terminal or that group is gone: nobody to give it back to
    finally:
        signal.signal(signal.SIGTTOU, previous)


class Terminated(Exception):
    """SIGTERM (kill, docker stop): stop everything as Ctrl-C does."""


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def uses_dev_credentials(env: dict[str, str]) -> bool:
    """The .env that `make run` generated, not a real Twilio account or a chosen stand-in."""
    return env.get("TWILIO_AUTH_TOKEN", "").startswith("dev-") and not env.get(
        "TWILIO_API_BASE_URL"
    )


def write_dev_env(path: Path, example: Path, port: int) -> None:
    """Write .env from .env.example with generated development values."""
    values = {
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": "dev-" + secrets.token_hex(16),
        "TWILIO_PHONE_NUMBER": DEV_PHONE,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "ENCRYPTION_KEYS": generate_key(),
        "LOOKUP_KEY": generate_lookup_key(),
        # texts to this on-call number show in the terminal ("[dev outbox] ...")
        "STAFF_NOTIFY_NUMBERS": DEV_ON_CALL,
        # the phone simulator at /simulator: development only, so on here and off by default
        "SIMULATOR_ENABLED": "true",
    }
    lines = example.read_text().splitlines() if example.exists() else []
    out: list[str] = []
    for line in lines:
        match = re.match(r"([A-Z][A-Z0-9_]*)=", line)
        if match and match.group(1) in values:
            line = f"{match.group(1)}={values.pop(match.group(1))}"
        out.append(line)
    out.extend(f"{name}={value}" for name, value in values.items())
    path.write_text("\n".join(out) + "\n")
    path.chmod(0o600)  # it holds secrets


def generate_lookup_key() -> str:
    return secrets.token_urlsafe(32)


def add_missing_dev_secrets(path: Path) -> None:
    """Give a .env that `make run` wrote before ENCRYPTION_KEYS or LOOKUP_KEY existed generated
    ones, once; one with real credentials is the user's to edit (start-up then names the missing
    setting)."""
    values = {k: v or "" for k, v in dotenv_values(path).items()}
    if not uses_dev_credentials({**values, **os.environ}):
        return
    generators: dict[str, Callable[[], str]] = {
        "ENCRYPTION_KEYS": generate_key,
        "LOOKUP_KEY": generate_lookup_key,
    }
    missing = [n for n in generators if not (os.environ.get(n) or values.get(n))]
    if not missing:
        return
    lines = [
        line
        for line in path.read_text().splitlines()
        if line.strip() not in {f"{n}=" for n in missing}
    ]
    added = [f"{name}={generators[name]()}" for name in missing]
    path.write_text("\n".join([*lines, *added]) + "\n")
    print(f"Added a generated {' and '.join(missing)} to {path.name}.")


def load_env(env_file: Path) -> dict[str, str]:
    """The .env file's values, overridden by the real environment."""
    from_file = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    return {**from_file, **os.environ}


def local_port(public_base_url: str) -> int:
    """The port of an http://127.0.0.1 or localhost PUBLIC_BASE_URL, else the default."""
    parsed = urlparse(public_base_url)
    try:
        if parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost"):
            return parsed.port or 80
    except ValueError:
        pass
    return DEFAULT_PORT


def port_is_free(port: int, host: str = DEV_HOST) -> bool:
    """Nothing listens on the address gunicorn will bind (host:port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_up(port: int, honcho: subprocess.Popen[bytes], host: str = DEV_HOST) -> bool:
    """Poll /healthz until it answers 200; False if honcho stopped or it took too long."""
    deadline = time.monotonic() + READY_TIMEOUT
    local = DEV_HOST if host in ("0.0.0.0", "") else host
    while time.monotonic() < deadline and honcho.poll() is None:
        try:
            with urllib.request.urlopen(f"http://{local}:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    if honcho.poll() is None:
        print(
            f"intake: http://{local}:{port}/healthz does not answer yet; see the log above.",
            flush=True,
        )
    return False


def stop_honcho(honcho: subprocess.Popen[bytes], ctrl_c: bool) -> None:
    """Have honcho stop web and worker (it signals their process groups), then wait for it."""
    if ctrl_c:
        # The terminal's Ctrl-C reached honcho too, and it is already stopping them.
        with contextlib.suppress(subprocess.TimeoutExpired):
            honcho.wait(timeout=HONCHO_STOP_TIMEOUT)
    if honcho.poll() is None:
        honcho.terminate()
    try:
        honcho.wait(timeout=HONCHO_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        honcho.kill()
        honcho.wait()


def banner(
    port: int, public_base_url: str, redis_url: str, embedded: bool, simulator: bool = False
) -> str:
    """What to do next, printed once the app answers."""
    local = f"http://127.0.0.1:{port}"
    base = urlparse(public_base_url)
    chat = "make chat   (or .venv/bin/intake chat)"
    if base.hostname in ("127.0.0.1", "localhost") and base.port != port:
        chat = f".venv/bin/intake chat --url {local}   (PUBLIC_BASE_URL names another port)"
    redis = "as REDIS_URL says"
    if embedded:  # show it (a URL from settings may hold a password); the CLI finds it itself
        redis = f"{redis_url}  (embedded, data in var/redis/)"
    tasks = ".venv/bin/intake tasks list"
    add_staff = ".venv/bin/intake staff add you@example.org"
    return "\n".join(
        [
            "",
            f"  intake is running at {local}",
            f"  Twilio webhooks:     POST {local}/sms and {local}/voice  (signatures are "
            f"checked against {public_base_url})",
            f"  Redis:               {redis}",
            "",
            f"  Chat with the bot from a second terminal:  {chat}",
            *([f"  Or text and call it in a browser: {local}/simulator"] if simulator else []),
            f"  Staff tasks:  {tasks}",
            f"  Staff dashboard: {local}/staff  (first add an account: {add_staff})",
            "  Stop everything with Ctrl-C.",
            "",
        ]
    )
