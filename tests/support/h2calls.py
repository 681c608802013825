"""Whole gRPC calls on a bare HTTP/2 connection, with header bytes no gRPC library would send (values
that are not UTF-8, control characters) and request bodies that do not decode."""

from __future__ import annotations

import socket
import struct
from collections import Counter
from collections.abc import Sequence

from tests.support.h2raw import (
    ACK,
    DATA,
    END_HEADERS,
    GOAWAY,
    HEADERS,
    PING,
    PREFACE,
    RST_STREAM,
    SETTINGS,
    _frame,
    grpc_messages,
    grpc_request_headers,
)

__all__ = ["raw_calls"]

END_STREAM = 0x1
WINDOW_UPDATE = 0x8
BATCH = 100  # calls in flight at once, well under the server's concurrent stream limit


class _Frames:
    """Frames read from a socket, one at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self._buffer = b""

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._socket.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def next(self) -> tuple[int, int, int, bytes]:
        """Kind, flags, stream id and payload of the next frame."""
        head = self._read(9)
        length = int.from_bytes(head[:3], "big")
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        return head[3], head[4], stream, self._read(length)


def raw_calls(
    address: str, path: str, headers: Sequence[tuple[bytes, bytes]] = (), count: int = 1, message: bytes = b""
) -> Counter[str]:
    """Makes `count` calls of `path` on one connection, each with the extra `headers` (HPACK literals,
    bytes as given) and one gRPC message `message`; returns how many ended `closed` (the server's
    end of stream) or `reset` (RST_STREAM), or `goaway`."""
    host, port = address.rsplit(":", 1)
    block = grpc_request_headers(address, path, headers)
    body = grpc_messages(message)
    ended: Counter[str] = Counter()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(PREFACE + _frame(SETTINGS, 0, 0))
        frames = _Frames(sock)
        for first in range(0, count, BATCH):
            waiting = {2 * index + 1 for index in range(first, min(first + BATCH, count))}
            sock.sendall(
                b"".join(
                    _frame(HEADERS, END_HEADERS, s, block) + _frame(DATA, END_STREAM, s, body)
                    for s in sorted(waiting)
                )
            )
            while waiting:
                kind, flags, stream, payload = frames.next()
                if kind in (SETTINGS, PING) and not flags & ACK:
                    sock.sendall(_frame(kind, ACK, 0, payload if kind == PING else b""))
                if kind == DATA and payload:  # give the window back, so replies never stall
                    sock.sendall(_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload))))
                if kind == GOAWAY:
                    ended["goaway"] += len(waiting) + max(count - first - BATCH, 0)
                    return ended
                if stream in waiting and (
                    kind == RST_STREAM or (kind in (HEADERS, DATA) and flags & END_STREAM)
                ):
                    waiting.discard(stream)
                    ended["reset" if kind == RST_STREAM else "closed"] += 1
    return ended
