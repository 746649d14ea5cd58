"""The local spool: what could not reach Redis, kept on disk until Redis answers again.

One append-only file under SPOOL_DIR. Each line is one record, encrypted with ENCRYPTION_KEYS
(Fernet, so a torn or altered line is refused rather than misread), written with O_APPEND and
fsynced before the person is answered. An flock keeps appends and a replay from interleaving,
across threads and gunicorn's worker processes alike.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .crypto import InvalidToken, MultiFernet

log = logging.getLogger(__name__)

FILE_NAME = "spool.log"
REJECTED_NAME = "spool.rejected"  # lines that could not be read back, kept for a person to see
DRAIN_INTERVAL = 1.0  # seconds between replay attempts while Redis is still away


@dataclass(frozen=True)
class Record:
    """One spooled change: `kind` says what to do with `payload`; `id` makes replay idempotent."""

    id: str
    kind: str
    payload: dict[str, Any]
    at: float


class Spool:
    """An encrypted, fsynced, append-only file of records."""

    def __init__(self, directory: Path, keys: MultiFernet) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self.keys = keys

    def append(self, kind: str, payload: dict[str, Any]) -> Record:
        """Write one record durably; returns it once it is on disk."""
        record = Record(id=uuid.uuid4().hex, kind=kind, payload=payload, at=time.time())
        line = self.keys.encrypt(json.dumps(record.__dict__).encode()) + b"\n"
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        new = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)  # and the flock with it
        if new:
            _fsync_dir(self.directory)  # the file's name must survive a crash too
        log.warning("spooled a %s record: Redis was unreachable", kind)
        return record

    def pending(self) -> bool:
        """Whether any record waits for replay."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def count(self) -> int:
        """How many records wait for replay (lines, not decrypted: cheap enough for a probe)."""
        try:
            with self.path.open("rb") as f:
                return sum(1 for line in f if line.strip())
        except (FileNotFoundError, NotADirectoryError):
            return 0

    def writable(self) -> bool:
        """Whether a record could be written now: the directory, or where it would be made."""
        directory = self.directory
        while not directory.exists() and directory != directory.parent:
            directory = directory.parent
        return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)

    def replay(self, apply: Callable[[Record], None]) -> int:
        """Hand every record to `apply` in order, then empty the file; returns how many.

        If `apply` raises, the file is left as it is and the error propagates: the next replay
        starts again from the first record, so `apply` must be idempotent (it is: see
        Store.replay_once).
        """
        with self._locked() as opened:
            if opened is None:
                return 0
            fd, data = opened
            records, unreadable = self._read(data)
            for record in records:
                apply(record)
            if unreadable:
                # A torn last line (a crash mid-write) or a key no longer configured: set it
                # aside where an operator finds it, never drop it silently.
                with (self.directory / REJECTED_NAME).open("ab") as rejected:
                    rejected.write(b"".join(line + b"\n" for line in unreadable))
                log.error("%d spool line(s) unreadable; kept in %s", len(unreadable), REJECTED_NAME)
            os.ftruncate(fd, 0)
            os.fsync(fd)
        if records:
            log.warning("replayed %d spooled record(s)", len(records))
        return len(records)

    def rotate(self) -> int:
        """Re-encrypt every waiting record under the newest key (`intake keys rotate`);
        returns how many. Lines no key reads are left as they are, for replay to set aside."""
        with self._locked() as opened:
            if opened is None:
                return 0
            fd, data = opened
            lines, rotated = [], 0
            for line in data.split(b"\n"):
                if not line.strip():
                    continue
                try:
                    lines.append(self.keys.rotate(line.strip()))
                    rotated += 1
                except InvalidToken:
                    lines.append(line.strip())
            out = b"".join(line + b"\n" for line in lines)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            view = memoryview(out)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        return rotated

    @contextmanager
    def _locked(self) -> Iterator[tuple[int, bytes] | None]:
        """The spool file open and locked against other processes, with what it holds; None
        when there is no file yet."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            yield None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = b""
            while chunk := os.read(fd, 1 << 16):
                data += chunk
            yield fd, data
        finally:
            os.close(fd)

    def _read(self, data: bytes) -> tuple[list[Record], list[bytes]]:
        """The records in the file, and the lines that could not be read."""
        records, unreadable = [], []
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                fields = json.loads(self.keys.decrypt(line.strip()))
                records.append(Record(**fields))
            except (InvalidToken, ValueError, TypeError):
                unreadable.append(line.strip())
        return records, unreadable


class Drainer:
    """A background thread that replays the spool until it is empty, then ends."""

    def __init__(
        self, spool: Spool, apply: Callable[[Record], None], interval: float = DRAIN_INTERVAL
    ) -> None:
        self.spool = spool
        self.apply = apply
        self.interval = interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def kick(self) -> None:
        """Start draining in this process unless a drainer already runs here."""
        with self._lock:
            # after a fork the parent's thread is not ours: start a new one
            if self._thread is not None and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="spool-drainer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            if not self.spool.pending():
                with self._lock:  # a record appended now finds no thread, and kicks a new one
                    if not self.spool.pending():
                        self._thread = None
                        return
            try:
                self.spool.replay(self.apply)
            except Exception as e:  # Redis still away: try again shortly
                log.debug("spool replay waits for Redis (%s)", type(e).__name__)
                time.sleep(self.interval)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
