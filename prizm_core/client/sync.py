"""A thin blocking wrapper around PrizmClient for scripts and notebooks."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client.client import CapabilityLike, Conversion, EventCallback, Inputs, PrizmClient
from prizm_core.client.results import JobResult, OutputSink
from prizm_core.options import OptionValue

__all__ = ["SyncPrizmClient"]


async def _connect(address: str | None) -> PrizmClient:
    return PrizmClient(address)


class SyncPrizmClient:
    """The same calls as PrizmClient, blocking, on a private event loop. Not thread-safe."""

    def __init__(self, address: str | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = self._loop.run_until_complete(_connect(address))

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
        """Closes the channel and the loop."""
        self._loop.run_until_complete(self._client.close())
        self._loop.close()

    def convert(
        self,
        source: Path | media_pb.Asset,
        to: str | media_pb.MediaKind.ValueType,
        *,
        timeout: float | None = None,
        on_event: EventCallback | None = None,
        sink: OutputSink | None = None,
    ) -> Conversion:
        """See PrizmClient.convert."""
        return self._loop.run_until_complete(
            self._client.convert(source, to, timeout=timeout, on_event=on_event, sink=sink)
        )

    def upload(self, path: Path, mime_type: str = "") -> media_pb.Asset:
        """See PrizmClient.upload."""
        return self._loop.run_until_complete(self._client.upload(path, mime_type))

    def list_providers(self) -> list[router_pb.ProviderEndpoint]:
        """See PrizmClient.list_providers."""
        return self._loop.run_until_complete(self._client.list_providers())

    def list_models(
        self, capability: CapabilityLike | None = None, provider: str = ""
    ) -> list[catalog_pb.Model]:
        """See PrizmClient.list_models."""
        return self._loop.run_until_complete(self._client.list_models(capability, provider))

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
        """See PrizmClient.run."""
        return self._loop.run_until_complete(
            self._client.run(
                capability,
                inputs,
                model=model,
                options=options,
                routing=routing,
                timeout=timeout,
                on_event=on_event,
                sink=sink,
            )
        )
