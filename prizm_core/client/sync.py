"""The blocking Python client: PrizmClient's calls on an event loop of its own, in a helper thread.

The loop runs in a thread so the client works the same everywhere: in a script, and where the
calling thread already runs a loop (Jupyter, an `async def` FastAPI route) and a loop of its own
there could not run.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Coroutine, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client.client import (
    DEFAULT_TIMEOUT_S,
    CapabilityLike,
    EventCallback,
    PrizmClient,
)
from prizm_core.client.events import Event
from prizm_core.client.inputs import Inputs
from prizm_core.client.results import Conversion, JobResult, OutputSink
from prizm_core.client.retries import DEFAULT_MAX_ATTEMPTS
from prizm_core.options import OptionValue
from prizm_core.security.tls import ClientTls

__all__ = ["SyncPrizmClient"]

T = TypeVar("T")
_END = object()


async def _connect(
    address: str | None,
    caller: str,
    timeout: float | None,
    max_attempts: int,
    tls: ClientTls | None,
    *,
    api_key: str | None = None,
) -> PrizmClient:
    # The channel belongs to the loop it is made on: make it on the helper thread's.
    return PrizmClient(address, caller, timeout=timeout, max_attempts=max_attempts, tls=tls, api_key=api_key)


async def _next(events: AsyncGenerator[Event, None]) -> object:
    return await anext(events, _END)


async def _close(events: AsyncGenerator[Event, None]) -> None:
    await events.aclose()


class SyncPrizmClient:
    """The calls of `PrizmClient`, blocking; usable in scripts, notebooks and async servers alike.

    `on_event` callbacks run on the client's helper thread. Ctrl-C (or any exception) while a
    call waits cancels the job. Use one client from one thread at a time.
    """

    def __init__(
        self,
        address: str | None = None,
        caller: str = "",
        *,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        tls: ClientTls | None = None,
        api_key: str | None = None,
    ) -> None:
        """Connects to the router at `address`; the arguments are `PrizmClient`'s."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="prizm-client", daemon=True)
        self._thread.start()
        self._closed = False
        self._client = self._call(_connect(address, caller, timeout, max_attempts, tls, api_key=api_key))

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # KeyboardInterrupt in the caller: the job stops too
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel and stops the helper thread; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    @property
    def address(self) -> str:
        """The router's address."""
        return self._client.address

    def list_providers(self) -> list[router_pb.ProviderEndpoint]:
        """See `PrizmClient.list_providers`."""
        return self._call(self._client.list_providers())

    def providers_not_started(self) -> list[router_pb.NotStartedProvider]:
        """See `PrizmClient.providers_not_started`."""
        return self._call(self._client.providers_not_started())

    def list_models(
        self, capability: CapabilityLike | None = None, provider: str = ""
    ) -> list[catalog_pb.Model]:
        """See `PrizmClient.list_models`."""
        return self._call(self._client.list_models(capability, provider))

    def upload(self, path: str | Path, mime_type: str = "") -> media_pb.Asset:
        """See `PrizmClient.upload`."""
        return self._call(self._client.upload(path, mime_type))

    def wait_for_capability(self, capability: CapabilityLike, timeout: float, provider: str = "") -> None:
        """See `PrizmClient.wait_for_capability`."""
        self._call(self._client.wait_for_capability(capability, timeout, provider))

    def run(
        self,
        capability: CapabilityLike,
        inputs: Inputs,
        *,
        model: str = "",
        options: Mapping[str, OptionValue] | None = None,
        routing: router_pb.RoutingHints | None = None,
        timeout: float | None = None,
        on_event: EventCallback | None = None,
        sink: OutputSink | None = None,
    ) -> JobResult:
        """See `PrizmClient.run`."""
        job = self._client.run(
            capability,
            inputs,
            model=model,
            options=options,
            routing=routing,
            timeout=timeout,
            on_event=on_event,
            sink=sink,
        )
        return self._call(job)

    def stream(
        self,
        capability: CapabilityLike,
        inputs: Inputs,
        *,
        model: str = "",
        options: Mapping[str, OptionValue] | None = None,
        routing: router_pb.RoutingHints | None = None,
        timeout: float | None = None,
        job_id: str = "",
    ) -> Iterator[Event]:
        """See `PrizmClient.stream`: `for event in client.stream(...)`; leaving the loop cancels the job."""
        events = self._client.stream(
            capability, inputs, model=model, options=options, routing=routing, timeout=timeout, job_id=job_id
        )
        try:
            while (event := self._call(_next(events))) is not _END:
                assert isinstance(event, Event)  # noqa: S101 - anything but the end marker is an event
                yield event
        finally:
            self._call(_close(events))

    def convert(
        self,
        source: str | Path | media_pb.Asset,
        to: str | media_pb.MediaKind.ValueType,
        *,
        timeout: float | None = None,
        on_event: EventCallback | None = None,
        sink: OutputSink | None = None,
    ) -> Conversion:
        """See `PrizmClient.convert`."""
        return self._call(self._client.convert(source, to, timeout=timeout, on_event=on_event, sink=sink))
