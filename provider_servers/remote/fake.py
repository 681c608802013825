"""`FakeVendor`: the base of every vendor's test double, an aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

__all__ = ["Call", "FakeVendor"]

_START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Call:
    """One request the fake received.

    Attributes:
        method: HTTP method.
        path: URL path, without the query.
        query: Query parameters (the last of each name).
        headers: Request headers (names as sent).
        body: The raw body.
        json: The body parsed as JSON when it was JSON, else None.
    """

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    json: Any = None


class FakeVendor:
    """A vendor's HTTP API faked on `127.0.0.1:0`, served from a thread of its own so that sync and
    async tests (and provider processes) can call it alike. It records every request in `calls`.

    Subclasses add the vendor's documented endpoints in `routes`; a vendor's fake ships in its
    package (`provider_servers/<vendor>/fake.py`) as a test double users can run too. Use it as a
    context manager: the server runs inside the `with` block.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        """Adds the vendor's endpoints to `app`. Default: none."""

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`, once started."""
        return f"http://127.0.0.1:{self.port}"

    def requests(self, method: str, path: str) -> list[Call]:
        """The calls received with `method` on `path`."""
        return [c for c in self.calls if c.method == method and c.path == path]

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        parsed = None
        if request.content_type == "application/json" and body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        self.calls.append(
            Call(request.method, request.path, dict(request.query), dict(request.headers), body, parsed)
        )
        response: web.StreamResponse = await handler(request)
        return response

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._record], client_max_size=1024**3)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def start(self) -> None:
        """Starts serving in a thread; returns once the port is bound."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failed: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # handed to the starting thread, which raises it
                failed.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not started.wait(_START_TIMEOUT_S) or failed:
            self._thread.join(_START_TIMEOUT_S)
            if not self._thread.is_alive():
                loop.close()
            self._loop = self._thread = None
            raise RuntimeError(f"{type(self).__name__} did not start: {failed[0] if failed else 'timeout'}")

    def stop(self) -> None:
        """Stops serving and closes the thread's loop."""
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(_START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT_S)
        loop.close()
        self._loop = self._thread = self._runner = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
