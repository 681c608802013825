"""A small TCP fault proxy on loopback: pass bytes through, delay them, stall them, or reset connections."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field

__all__ = ["FaultProxy"]

_READ_BYTES = 64 * 1024


@dataclass
class FaultProxy:
    """Forwards 127.0.0.1:<port> to `target`; its mode can change while connections are open.

    Modes: `pass` (forward), `delay` (hold each piece `delay_s` before forwarding),
    `stall` (keep connections open but forward nothing: a hung peer), and
    `reset()` (abort every open connection with a TCP RST; new ones still pass).
    """

    target: str
    mode: str = "pass"
    delay_s: float = 0.0
    port: int = 0
    _server: asyncio.Server | None = None
    _connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=set)
    _resume: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def address(self) -> str:
        """`127.0.0.1:port` to dial instead of the target."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        """Starts listening on a free loopback port."""
        self._resume.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def set_mode(self, mode: str, delay_s: float = 0.0) -> None:
        """Switches to `pass`, `delay` or `stall`."""
        if mode not in {"pass", "delay", "stall"}:
            raise ValueError(f"unknown mode {mode}")
        self.mode, self.delay_s = mode, delay_s
        if mode == "stall":
            self._resume.clear()
        else:
            self._resume.set()

    def reset(self) -> None:
        """Aborts every open connection with a RST, as a crashed host would."""
        for client, upstream in list(self._connections):
            for writer in (client, upstream):
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
        self._connections.clear()

    async def close(self) -> None:
        """Stops listening and aborts every connection."""
        self.reset()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.target.rsplit(":", 1)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._connections.add(pair)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._connections.discard(pair)
            writer.transport.abort()
            up_writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(_READ_BYTES):
                await self._resume.wait()
                if self.mode == "delay" and self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
