"""A small TCP fault proxy on loopback: pass bytes through, delay them, stall them, or reset connections.

It runs its own event loop in a thread, like a separate host: a test that
blocks (waiting for a process, say) does not freeze the network under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from concurrent.futures import Future

__all__ = ["FaultProxy"]

_READ_BYTES = 64 * 1024


class FaultProxy:
    """Forwards 127.0.0.1:<port> to `target`; its mode can change while connections are open.

    Modes: `pass` (forward), `delay` (hold each piece `delay_s` before forwarding),
    `stall` (keep connections open but forward nothing: a hung peer), and
    `reset()` (abort every open connection with a TCP RST; new ones still pass).
    With `responses_only`, delay and stall touch only what the target sends back.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.mode = "pass"
        self.delay_s = 0.0
        self.responses_only = False
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._resume = asyncio.Event()

    @property
    def address(self) -> str:
        """`127.0.0.1:port` to dial instead of the target."""
        return f"127.0.0.1:{self.port}"

    def _run(self, coroutine: object) -> object:
        future: Future[object] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        return future.result(timeout=10)

    def start(self) -> FaultProxy:
        """Starts listening on a free loopback port."""
        self._thread.start()
        self._run(self._start())
        return self

    async def _start(self) -> None:
        self._resume.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def set_mode(self, mode: str, delay_s: float = 0.0, responses_only: bool = False) -> None:
        """Switches to `pass`, `delay` or `stall`."""
        if mode not in {"pass", "delay", "stall"}:
            raise ValueError(f"unknown mode {mode}")

        def apply() -> None:
            self.mode, self.delay_s, self.responses_only = mode, delay_s, responses_only
            if mode == "stall":
                self._resume.clear()
            else:
                self._resume.set()

        self._loop.call_soon_threadsafe(apply)

    def reset(self) -> None:
        """Aborts every open connection with a RST, as a crashed host would."""
        self._run(self._reset())

    async def _reset(self) -> None:
        for client, upstream in list(self._connections):
            for writer in (client, upstream):
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
        self._connections.clear()

    def close(self) -> None:
        """Stops listening, aborts every connection and stops the thread."""
        self._run(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._reset()
        tasks = asyncio.all_tasks(self._loop) - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # ended before the loop stops

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
            await asyncio.gather(self._pipe(reader, up_writer, False), self._pipe(up_reader, writer, True))
        except asyncio.CancelledError:
            # Closing. Ends quietly: Python 3.11's start_server reports a cancelled handler as an error.
            pass
        finally:
            self._connections.discard(pair)
            writer.transport.abort()
            up_writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bool) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(_READ_BYTES):
                affected = response or not self.responses_only
                if affected:
                    await self._resume.wait()
                if affected and self.mode == "delay" and self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
