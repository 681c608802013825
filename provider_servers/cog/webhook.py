"""The loopback HTTP receiver of a Cog server's webhooks, which also lends it large input files.

A Cog server reports an asynchronous prediction only by webhook (it cannot be polled): each
request's body is the whole prediction so far. One receiver per provider process, on
`127.0.0.1` and an ephemeral port, routes each body to the queue of its prediction id.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["WebhookReceiver"]

log = logging.getLogger(__name__)

# Each webhook carries the whole output so far, files inline as data URIs (a third larger than the
# files): far beyond aiohttp's default of 1 MiB a request, which would drop the webhook.
MAX_WEBHOOK_BYTES = 1024**3


class WebhookReceiver:
    """Receives webhooks at `/predictions/{id}` and serves lent files at `/files/{token}`."""

    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._files: dict[str, Path] = {}
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def start(self) -> None:
        """Starts listening on `127.0.0.1` and a free port; again after `close` it starts anew."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_WEBHOOK_BYTES)
        app.router.add_post("/predictions/{id}", self._receive)
        app.router.add_get("/files/{token}", self._file)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        # A socket of our own, bound to port 0, so that the port the system picked can be read back.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def close(self) -> None:
        """Stops listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str) -> str:
        """The URL of `path` on the receiver, as the Cog server (on this host) reaches it."""
        return f"http://127.0.0.1:{self._port}{path}"

    @contextmanager
    def prediction(self, prediction_id: str) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        """The queue of the prediction's webhook bodies while the block runs; its URL is
        `url(f"/predictions/{prediction_id}")`."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues[prediction_id] = queue
        try:
            yield queue
        finally:
            del self._queues[prediction_id]

    @contextmanager
    def lend(self, path: Path) -> Iterator[str]:
        """A URL serving `path` while the block runs, behind a random token only the server is told."""
        token = secrets.token_urlsafe(24)
        self._files[token] = path
        try:
            yield self.url(f"/files/{token}")
        finally:
            del self._files[token]

    async def _receive(self, request: web.Request) -> web.Response:
        queue = self._queues.get(request.match_info["id"])
        if queue is None:
            # A late webhook of a prediction that has ended here: nothing waits for it.
            return web.Response(status=204)
        try:
            body = await request.json()
        except ValueError:
            log.warning("cog webhook for %s was not JSON", request.match_info["id"])
            return web.Response(status=400)
        if isinstance(body, dict):
            queue.put_nowait(body)
        return web.Response(status=204)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = self._files.get(request.match_info["token"])
        if path is None:
            return web.Response(status=404)
        return web.FileResponse(path)
