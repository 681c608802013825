"""The async Python client of a Prizm router."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import grpc
from prizm.v1 import asset_service_pb2 as asset_pb
from prizm.v1 import asset_service_pb2_grpc as asset_grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.assets import describe_file, extension_for, file_asset, text_asset
from prizm_core.capabilities import capability_by_name, capability_info
from prizm_core.channels import CHUNK_BYTES, INLINE_LIMIT_BYTES, insecure_channel
from prizm_core.client.conversion import kind_by_name, plan_conversion
from prizm_core.client.results import FileSink, JobResult, MemorySink, OutputSink, ResultBuilder
from prizm_core.errors import PrizmError
from prizm_core.options import OptionValue, options_struct
from prizm_core.streams import read_apart

__all__ = ["DEFAULT_ROUTER", "Conversion", "Inputs", "PrizmClient", "router_address"]

DEFAULT_ROUTER = "127.0.0.1:50051"
_POLL_S = 0.2

CapabilityLike = str | int
Inputs = str | bytes | Path | media_pb.Asset | Sequence[media_pb.Asset]
EventCallback = Callable[[router_pb.RouterServiceTransformResponse], None]


def router_address(address: str | None = None) -> str:
    """The router address: the argument, else `PRIZM_ROUTER`, else 127.0.0.1:50051."""
    return address or os.environ.get("PRIZM_ROUTER") or DEFAULT_ROUTER


@dataclass(frozen=True)
class Conversion:
    """A finished conversion: the capabilities it took and each step's result (the last is the answer)."""

    capabilities: list[str]
    steps: list[JobResult]

    @property
    def result(self) -> JobResult:
        """The last job's result: the source as the kind asked for."""
        return self.steps[-1]


def _step_files(folder: Path, step: int) -> FileSink:
    def path_for(index: int, asset: media_pb.Asset) -> Path:
        return folder / f"step-{step}-{index}{extension_for(asset.mime_type)}"

    return FileSink(path_for)


def _capability(value: CapabilityLike) -> media_pb.Capability.ValueType:
    try:
        return capability_by_name(value).value if isinstance(value, str) else capability_info(value).value
    except KeyError:
        raise PrizmError(
            grpc.StatusCode.INVALID_ARGUMENT, "UNKNOWN_CAPABILITY", f"unknown capability {value!r}"
        ) from None


def _inputs(capability: media_pb.Capability.ValueType, inputs: Inputs) -> list[media_pb.Asset | Path]:
    """Assets from what the caller gave: text for text capabilities, a path, bytes or assets."""
    if isinstance(inputs, media_pb.Asset | Path):
        return [inputs]
    if isinstance(inputs, str | bytes):
        if capability_info(capability).input_kind != media_pb.MEDIA_KIND_TEXT:
            raise PrizmError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "INVALID_INPUT",
                "give a Path or an Asset for non-text input",
            )
        return [text_asset(inputs if isinstance(inputs, str) else inputs.decode("utf-8"))]
    return list(inputs)


class PrizmClient:
    """Talks to a Prizm router: list the mesh, run jobs with live progress.

    Use as `async with PrizmClient() as client: ...`. Failed calls raise
    `PrizmError` with the status code, the stable reason and the details.
    """

    def __init__(self, address: str | None = None, caller: str = "") -> None:
        """Connects to the router at `address` (see `router_address`).

        Args:
            address: `host:port` of the router.
            caller: A name for this caller, for the router's per-caller job limit;
                by default the router counts per host.
        """
        self.address = router_address(address)
        self._metadata = (("prizm-caller", caller),) if caller else ()
        self._channel = insecure_channel(self.address)
        self._stub = router_grpc.RouterServiceStub(self._channel)
        self._assets = asset_grpc.AssetServiceStub(self._channel)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the channel."""
        await self._channel.close()

    async def list_providers(self, timeout: float | None = 10.0) -> list[router_pb.ProviderEndpoint]:
        """Every provider endpoint the router knows, with health and load."""
        try:
            response = await self._stub.ListProviders(router_pb.ListProvidersRequest(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise PrizmError.from_rpc_error(exc) from None
        return list(response.providers)

    async def list_models(
        self,
        capability: CapabilityLike | None = None,
        provider: str = "",
        timeout: float | None = 10.0,
    ) -> list[catalog_pb.Model]:
        """Models of the mesh's routable providers, optionally of one capability or provider."""
        request = router_pb.RouterServiceListModelsRequest(
            capability=_capability(capability) if capability is not None else media_pb.CAPABILITY_UNSPECIFIED,
            provider=provider,
        )
        try:
            response = await self._stub.ListModels(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise PrizmError.from_rpc_error(exc) from None
        return list(response.models)

    async def upload(self, path: Path, mime_type: str = "", timeout: float | None = None) -> media_pb.Asset:
        """Uploads a file to the router as it is read, and returns an input that refers to it.

        Any size works, with flat memory; the router keeps the asset for its lease (an hour by
        default) from its last use.
        """
        header = describe_file(path, mime_type)

        async def chunks() -> AsyncIterator[bytes]:
            stream = await asyncio.to_thread(path.open, "rb")
            try:
                while chunk := await asyncio.to_thread(stream.read, CHUNK_BYTES):
                    yield chunk
            finally:
                await asyncio.to_thread(stream.close)

        return await self._upload(header, chunks(), path.name, timeout)

    async def _upload(
        self, header: media_pb.Asset, chunks: AsyncIterator[bytes], name: str, timeout: float | None
    ) -> media_pb.Asset:
        digest = hashlib.sha256()

        async def parts() -> AsyncIterator[asset_pb.UploadAssetRequest]:
            yield asset_pb.UploadAssetRequest(header=header)
            async for chunk in chunks:
                digest.update(chunk)
                yield asset_pb.UploadAssetRequest(chunk=chunk)

        try:
            response = await self._assets.UploadAsset(parts(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise PrizmError.from_rpc_error(exc) from None
        if response.asset.sha256 != digest.hexdigest():
            raise PrizmError(grpc.StatusCode.DATA_LOSS, "ASSET_CORRUPTED", f"{name} arrived damaged")
        return response.asset

    async def _within_inline_limit(self, assets: Sequence[media_pb.Asset]) -> list[media_pb.Asset]:
        """The inputs, with those that would take the request over the inline limit uploaded instead."""
        kept: list[media_pb.Asset] = []
        inline = 0
        for index, asset in enumerate(assets):
            if asset.WhichOneof("source") == "data" and inline + len(asset.data) > INLINE_LIMIT_BYTES:
                kept.append(await self._upload_inline(asset, f"inputs[{index}]"))
            else:
                inline += len(asset.data)
                kept.append(asset)
        return kept

    async def _upload_inline(self, asset: media_pb.Asset, name: str) -> media_pb.Asset:
        header = media_pb.Asset()
        header.CopyFrom(asset)
        header.ClearField("data")

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(asset.data), CHUNK_BYTES):
                yield asset.data[start : start + CHUNK_BYTES]

        return await self._upload(header, chunks(), name, None)

    async def asset(self, path: Path, mime_type: str = "") -> media_pb.Asset:
        """An input for a file: its bytes inline when small, an upload when over the inline limit."""
        size = (await asyncio.to_thread(path.stat)).st_size
        if size > INLINE_LIMIT_BYTES:
            return await self.upload(path, mime_type)
        return await asyncio.to_thread(file_asset, path, mime_type)

    async def wait_for_capability(
        self, capability: CapabilityLike, timeout: float, provider: str = ""
    ) -> None:
        """Waits until the router is up and a provider (`provider`, when given) serves `capability`.

        Raises:
            PrizmError: DEADLINE_EXCEEDED when none does within `timeout` seconds.
        """
        end = time.monotonic() + timeout
        while (remaining := end - time.monotonic()) > 0:
            try:
                request = router_pb.RouterServiceListModelsRequest(
                    capability=_capability(capability), provider=provider
                )
                response = await self._stub.ListModels(request, timeout=remaining, wait_for_ready=True)
                if response.models:
                    return
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise PrizmError.from_rpc_error(exc) from None
            await asyncio.sleep(min(_POLL_S, max(end - time.monotonic(), 0)))
        raise PrizmError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "NOT_READY",
            f"no {provider or 'provider'} serving {capability} at {self.address} within {timeout:g} s",
        )

    async def stream(
        self,
        capability: CapabilityLike,
        inputs: Inputs,
        *,
        model: str = "",
        options: Mapping[str, OptionValue] | None = None,
        routing: router_pb.RoutingHints | None = None,
        timeout: float | None = None,
        job_id: str = "",
    ) -> AsyncIterator[router_pb.RouterServiceTransformResponse]:
        """Runs a job and yields every event as it arrives: progress, outputs, completion.

        Breaking out of the loop (or cancelling the task) cancels the job on the provider.
        """
        value = _capability(capability)
        assets = await self._within_inline_limit(
            [
                item if isinstance(item, media_pb.Asset) else await self.asset(item)
                for item in _inputs(value, inputs)
            ]
        )
        request = router_pb.RouterServiceTransformRequest(
            capability=value,
            model=model,
            inputs=assets,
            options=options_struct(options),
            job_id=job_id,
            routing=routing,
        )
        call = self._stub.Transform(request, timeout=timeout, metadata=self._metadata)
        events = read_apart(call)
        try:
            async for event in events:
                yield event
        except grpc.aio.AioRpcError as exc:
            raise PrizmError.from_rpc_error(exc) from None
        finally:
            await events.aclose()  # cancels the call if it is still going

    async def run(
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
        """Runs a job to the end and returns its outputs, checked against their hashes.

        Args:
            capability: What to do, e.g. `"text-to-audio"`.
            inputs: Text (for text capabilities), a Path, an Asset or a list of Assets.
            model: A model id; any model with the capability when empty.
            options: Model options, checked by the provider against its schema.
            routing: Provider, policy, max cost, fallback and wait-for-ready hints.
            timeout: Deadline for the whole job, in seconds.
            on_event: Called with every event, e.g. to draw progress.
            sink: Where output bytes go; in memory by default.
        """
        builder = ResultBuilder(sink or MemorySink())
        try:
            async for event in self.stream(
                capability, inputs, model=model, options=options, routing=routing, timeout=timeout
            ):
                builder.add(event)
                if on_event is not None:
                    on_event(event)
            return builder.result()
        except BaseException:
            builder.abandon()
            raise

    async def convert(
        self,
        source: Path | media_pb.Asset,
        to: str | media_pb.MediaKind.ValueType,
        *,
        timeout: float | None = None,
        on_event: EventCallback | None = None,
        sink: OutputSink | None = None,
    ) -> Conversion:
        """The source as another kind of media, through one or two jobs of the live mesh.

        For example a video `to="text"`: its soundtrack (video-to-audio), then its words
        (audio-to-text). Intermediate outputs go through temporary files, so any size works.

        Args:
            source: A file or an asset.
            to: The kind wanted: text, image, audio, video or 3d.
            timeout: Deadline for the whole conversion, in seconds.
            on_event: Called with every event of every job.
            sink: Where the final output goes; in memory by default.

        Raises:
            PrizmError: FAILED_PRECONDITION NO_CONVERSION_PATH when the mesh has no way there.
        """
        kind = source.kind if isinstance(source, media_pb.Asset) else describe_file(source).kind
        target = kind_by_name(to) if isinstance(to, str) else to
        hops = plan_conversion(await self.list_models(), kind, target)
        if not hops:
            raise PrizmError(
                grpc.StatusCode.INVALID_ARGUMENT, "NOTHING_TO_CONVERT", "the source is already that kind"
            )
        end = None if timeout is None else time.monotonic() + timeout
        results: list[JobResult] = []
        current: Path | media_pb.Asset = source
        with tempfile.TemporaryDirectory(prefix="prizm-convert-") as folder:
            for step, hop in enumerate(hops):
                last = step == len(hops) - 1
                left = None if end is None else max(end - time.monotonic(), 0.001)
                step_sink = (sink or MemorySink()) if last else _step_files(Path(folder), step)
                result = await self.run(hop.name, current, timeout=left, on_event=on_event, sink=step_sink)
                results.append(result)
                if not last:
                    current = result.outputs[0].path or Path(folder)
        return Conversion(capabilities=[hop.name for hop in hops], steps=results)
