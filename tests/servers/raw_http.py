"""A raw-socket HTTP/1.1 client that keeps every byte the server sent, framing included."""

from __future__ import annotations

import socket
import struct
from typing import BinaryIO

__all__ = ["IGNORED_HEADERS", "exchange", "hang_up_mid_stream", "header_values", "normalized"]

# the only headers allowed to differ between the bare and the wrapped app, and why:
# Date changes with the second; X-Request-ID is what perfkit adds (checked separately)
IGNORED_HEADERS = frozenset({b"date", b"x-request-id"})


def exchange(port: int, requests: list[tuple[str, str]], timeout: float = 15.0) -> list[bytes]:
    """Send each ``(method, path)`` in turn on one keep-alive connection; the raw responses.

    A server that ends the connection after a response (wsgiref answers in
    HTTP/1.0) gets a new one for the next request.
    """
    answers: list[bytes] = []
    sock: socket.socket | None = None
    try:
        for method, path in requests:
            if method == "HEAD":
                answers.append(_head(port, path, timeout))
                continue
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout)
                stream = sock.makefile("rb")
            sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            answer = _read_response(stream, method)
            answers.append(answer)
            if not _kept_alive(answer):
                sock.close()
                sock = None
    finally:
        if sock is not None:
            sock.close()
    return answers


def _head(port: int, path: str, timeout: float) -> bytes:
    """HEAD on its own connection, read to the end: daphne sends a body even for HEAD,
    which would break the framing of the next response on a shared connection."""
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        request = f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def _kept_alive(raw: bytes) -> bool:
    connection = b",".join(header_values(raw, b"connection")).lower()
    if raw.startswith(b"HTTP/1.0"):
        return b"keep-alive" in connection
    return b"close" not in connection


def _read_response(stream: BinaryIO, method: str) -> bytes:
    head = [stream.readline()]
    if not head[0]:
        raise ConnectionError("the server closed the connection before answering")
    while head[-1] not in (b"\r\n", b"\n", b""):
        head.append(stream.readline())
    status = int(head[0].split()[1])
    headers = _headers(b"".join(head))
    body: list[bytes] = []
    if status in (204, 304) or status < 200:
        pass  # no body, whatever the headers announce
    elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        while True:
            size_line = stream.readline()
            size = int(size_line.split(b";")[0], 16)
            body += [size_line, stream.read(size + 2)]  # data and its CRLF (no trailers)
            if size == 0:
                break
    elif b"content-length" in headers:
        body.append(stream.read(int(headers[b"content-length"])))
    else:
        body.append(stream.read())  # delimited by the server closing the connection
    return b"".join(head + body)


def _headers(raw: bytes) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = {}
    for line in raw.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


def header_values(raw: bytes, name: bytes) -> list[bytes]:
    """Every value of header `name` (any case) in one raw response."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    values = []
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            values.append(value.strip())
    return values


def normalized(raw: bytes) -> bytes:
    """The response without the lines of `IGNORED_HEADERS`; every other byte kept."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    kept = [lines[0]] + [
        line for line in lines[1:] if line.partition(b":")[0].strip().lower() not in IGNORED_HEADERS
    ]
    return b"\r\n".join(kept) + sep + body


def hang_up_mid_stream(port: int, path: str, read_at_least: int = 65536) -> int:
    """Start a long response, read some of it, then reset the connection; bytes read."""
    with socket.create_connection(("127.0.0.1", port), 15) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        got = 0
        while got < read_at_least:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"the server ended the stream after {got} bytes")
            got += len(chunk)
        # a reset rather than a polite FIN: the server's next write fails at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return got
