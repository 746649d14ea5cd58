"""Raw HTTP/1.1 for hostile requests: huge, chunked or lying bodies that urllib would not send."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil

MB = 1024 * 1024


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the first byte sent to the whole response read


def post(
    host: str,
    port: int,
    path: str,
    body: Iterator[bytes],
    headers: dict[str, str],
    timeout: float = 30.0,
) -> RawResponse:
    """Send headers, then `body` from a thread (the server may answer before it is all sent),
    and read the response; a server that stops reading is expected, not an error."""
    sock = socket.create_connection((host, port), timeout=timeout)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    started = time.perf_counter()

    def send() -> None:
        try:
            sock.sendall(head.encode() + b"\r\n")
            for piece in body:
                sock.sendall(piece)
        except OSError:
            pass  # the server answered and closed: the rest of the body is not wanted

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        raw = _read_response(sock)
    finally:
        seconds = time.perf_counter() - started
        sock.close()
        sender.join(timeout=5)
    head_bytes, _, rest = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    parsed = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    return RawResponse(status, parsed, rest, seconds)


def _read_response(sock: socket.socket) -> bytes:
    """Read one response: headers, then Content-Length bytes (the server sets it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError(f"connection closed before a response: {data!r}")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(rest) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        rest += piece
    return head + b"\r\n\r\n" + rest


def plain_body(size: int, piece: bytes = b"Body=a&" * 9362) -> Iterator[bytes]:
    """`size` bytes of a urlencoded form, sent in 64 KB writes."""
    sent = 0
    while sent < size:
        chunk = piece[: size - sent]
        sent += len(chunk)
        yield chunk


def chunked_body(size: int) -> Iterator[bytes]:
    """The same form in HTTP chunked transfer encoding (no Content-Length)."""
    for chunk in plain_body(size):
        yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    yield b"0\r\n\r\n"


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its children, in bytes."""
    parent = psutil.Process(pid)
    total = 0
    for proc in [parent, *parent.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def worker_rss(pid: int) -> dict[int, int]:
    """Resident memory of each child of `pid` (gunicorn's workers), by pid."""
    found = {}
    for proc in psutil.Process(pid).children(recursive=True):
        try:
            found[proc.pid] = proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return found
