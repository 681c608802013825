"""gRPC calls over a bare HTTP/2 connection with header bytes no gRPC library sends (values that are
not UTF-8, control characters) and bodies that do not decode: one call and the status it ends with
(`grpc-status` read from the trailers by a small HPACK decoder, RFC 7541: static and dynamic table,
no Huffman; gRPC's encoder writes the values we read as plain literals), or many calls on one
connection, counted by how they ended."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
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

__all__ = ["MAX_BODY_BYTES", "HpackDecoder", "raw_call", "raw_calls"]

END_STREAM = 0x1
WINDOW_UPDATE = 0x8
BATCH = 100  # calls in flight at once, well under the server's concurrent stream limit
CONTINUATION = 0x9
PADDED, PRIORITY = 0x8, 0x20
MAX_FRAME_BYTES = 16_384
# What one call may send before the server's first WINDOW_UPDATE (the initial window, 65,535).
MAX_BODY_BYTES = 65_535
_STATUS_NAMES = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}
# RFC 7541 Appendix A: names only (the values we need never come from the static table).
_STATIC_NAMES = [
    ":authority",
    ":method",
    ":method",
    ":path",
    ":path",
    ":scheme",
    ":scheme",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "accept",
    "access-control-allow-origin",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-range",
    "content-type",
    "cookie",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "link",
    "location",
    "max-forwards",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "refresh",
    "retry-after",
    "server",
    "set-cookie",
    "strict-transport-security",
    "transfer-encoding",
    "user-agent",
    "vary",
    "via",
    "www-authenticate",
]
_STATIC_STATUS = {8: b"200", 9: b"204", 10: b"206", 11: b"304", 12: b"400", 13: b"404", 14: b"500"}
HUFFMAN = b"<huffman>"


class HpackDecoder:
    """Header blocks of one connection, decoded in order (the dynamic table lives across them)."""

    def __init__(self) -> None:
        self._table: list[tuple[bytes, bytes]] = []
        self._max = 4096

    def _integer(self, block: bytes, at: int, prefix: int) -> tuple[int, int]:
        limit = (1 << prefix) - 1
        value = block[at] & limit
        at += 1
        if value < limit:
            return value, at
        shift = 0
        while True:
            byte = block[at]
            at += 1
            value += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value, at

    def _string(self, block: bytes, at: int) -> tuple[bytes, int]:
        huffman = block[at] & 0x80
        length, at = self._integer(block, at, 7)
        return (HUFFMAN if huffman else block[at : at + length]), at + length

    def _entry(self, index: int) -> tuple[bytes, bytes]:
        if index <= len(_STATIC_NAMES):
            return _STATIC_NAMES[index - 1].encode(), _STATIC_STATUS.get(index, b"")
        return self._table[index - len(_STATIC_NAMES) - 1]

    def _add(self, entry: tuple[bytes, bytes]) -> None:
        self._table.insert(0, entry)
        while self._table and sum(len(n) + len(v) + 32 for n, v in self._table) > self._max:
            self._table.pop()

    def decode(self, block: bytes) -> list[tuple[bytes, bytes]]:
        """The header fields of one complete block."""
        fields, at = [], 0
        while at < len(block):
            first = block[at]
            if first & 0x80:
                index, at = self._integer(block, at, 7)
                fields.append(self._entry(index))
                continue
            if first & 0xE0 == 0x20:
                self._max, at = self._integer(block, at, 5)
                continue
            prefix = 6 if first & 0x40 else 4
            index, at = self._integer(block, at, prefix)
            if index:
                name = self._entry(index)[0]
            else:
                name, at = self._string(block, at)
            value, at = self._string(block, at)
            fields.append((name, value))
            if prefix == 6:
                self._add((name, value))
        return fields


def _headers_payload(flags: int, payload: bytes) -> bytes:
    if flags & PADDED:
        payload = payload[1 : len(payload) - payload[0]]
    if flags & PRIORITY:
        payload = payload[5:]
    return payload


def _header_frames(block: bytes) -> bytes:
    """A header block as HEADERS and CONTINUATION frames of the default maximum size."""
    pieces = [block[at : at + MAX_FRAME_BYTES] for at in range(0, len(block), MAX_FRAME_BYTES)]
    last = len(pieces) - 1
    return b"".join(
        _frame(HEADERS if i == 0 else CONTINUATION, END_HEADERS if i == last else 0, 1, piece)
        for i, piece in enumerate(pieces)
    )


def _data_frames(body: bytes) -> bytes:
    """`body` in DATA frames of the default maximum size, the last one ending the stream."""
    pieces = [body[at : at + MAX_FRAME_BYTES] for at in range(0, len(body), MAX_FRAME_BYTES)] or [b""]
    last = len(pieces) - 1
    return b"".join(_frame(DATA, END_STREAM if i == last else 0, 1, p) for i, p in enumerate(pieces))


Outcome = tuple[str, str]


class _Stream:
    """The server's side of our one stream, frame by frame, until it says how the call ended."""

    def __init__(self, sock: socket.socket, endless: bool) -> None:
        self.sock, self.endless = sock, endless
        self.decoder, self.pending, self.answered = HpackDecoder(), b"", False
        self.goaway: Outcome | None = None

    def on_frame(self, kind: int, flags: int, payload: bytes) -> Outcome | None:
        if kind in (SETTINGS, PING) and not flags & ACK:
            with contextlib.suppress(OSError):  # a server that closed is seen at the next recv
                self.sock.sendall(_frame(kind, ACK, 0, payload if kind == PING else b""))
        elif kind == GOAWAY:
            code = int.from_bytes(payload[4:8], "big")
            self.goaway = f"GOAWAY {code}", payload[8:].decode(errors="replace")
            if int.from_bytes(payload[:4], "big") < 1:  # our stream was never processed
                return self.goaway
        elif kind == RST_STREAM:
            return f"RST_STREAM {int.from_bytes(payload[:4], 'big')}", ""
        elif kind == DATA:
            self.answered = True
        elif kind in (HEADERS, CONTINUATION):
            self.pending += _headers_payload(flags, payload) if kind == HEADERS else payload
            if flags & END_HEADERS:
                fields, self.pending = dict(self.decoder.decode(self.pending)), b""
                status = fields.get(b"grpc-status", b"")
                if status:
                    name = _STATUS_NAMES.get(int(status) if status.isdigit() else -1, f"CODE {status!r}")
                    return name, fields.get(b"grpc-message", b"").decode(errors="replace")
        return ("STREAMING", "") if self.endless and self.answered else None


def raw_call(
    address: str,
    path: str,
    headers: Sequence[tuple[bytes, bytes]],
    messages: Sequence[bytes],
    *,
    timeout_s: float = 5.0,
    endless: bool = False,
) -> Outcome:
    """One call on a fresh connection, every message sent at once, and how it ended: its status
    name, `RST_STREAM <code>`, `GOAWAY <code>`, `CLOSED`, `HANG` (nothing final within
    `timeout_s`), or `STREAMING` for an `endless` stream that answered and stayed open; and the
    status message or the GOAWAY's debug data."""
    host, port = address.rsplit(":", 1)
    block = grpc_request_headers(address, path, headers)
    body = grpc_messages(*messages)
    deadline = time.monotonic() + timeout_s
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        stream = _Stream(sock, endless)
        sock.sendall(PREFACE + _frame(SETTINGS, 0, 0) + _header_frames(block) + _data_frames(body))
        buffer = b""
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                return stream.goaway or ("CLOSED", "")
            buffer += chunk
            while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
                end = 9 + int.from_bytes(buffer[:3], "big")
                outcome = stream.on_frame(buffer[3], buffer[4], buffer[9:end])
                buffer = buffer[end:]
                if outcome is not None:
                    return outcome
        return stream.goaway or ("HANG", "")


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
