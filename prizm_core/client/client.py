"""The async Python client of a Prizm router."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import grpc
from prizm.v1 import asset_service_pb2_grpc as asset_grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.assets import describe_file, extension_for
from prizm_core.capabilities import capability_by_name, capability_info
from prizm_core.channels import open_channel
from prizm_core.client.conversion import kind_by_name, plan_conversion
from prizm_core.client.events import Event, OutputHeader, event_from_proto
from prizm_core.client.inputs import Inputs, file_size, resolve_inputs
from prizm_core.client.results import Conversion, FileSink, JobResult, MemorySink, OutputSink, ResultBuilder
from prizm_core.client.retries import DEFAULT_MAX_ATTEMPTS, Deadline, retry_delay
from prizm_core.client.uploads import Uploads
from prizm_core.errors import PrizmError, Reason
from prizm_core.options import OptionValue, options_struct
from prizm_core.security.bearer import api_key_from, bearer_interceptors
from prizm_core.security.tls import ClientTls, caller_tls
from prizm_core.streams import read_apart

__all__ = ["DEFAULT_ROUTER", "DEFAULT_TIMEOUT_S", "EventCallback", "PrizmClient", "router_address"]

logger = logging.getLogger(__name__)

DEFAULT_ROUTER = "127.0.0.1:50051"
# Jobs (run, stream, convert) end with DEADLINE_EXCEEDED after this long unless the client or the
# call says otherwise: long enough for a minute of video on a CPU, short enough that a stuck call ends.
DEFAULT_TIMEOUT_S = 600.0
_POLL_S = 0.2

CapabilityLike = str | int
EventCallback = Callable[[Event], None]


def router_address(address: str | None = None) -> str:
    """The router address: the argument, else `PRIZM_ROUTER`, else 127.0.0.1:50051."""
    return address or os.environ.get("PRIZM_ROUTER") or DEFAULT_ROUTER


def _step_files(folder: Path, step: int) -> FileSink:
    def path_for(header: OutputHeader) -> Path:
        return folder / f"step-{step}-{header.index}{extension_for(header.mime_type)}"

    return FileSink(path_for)


def _capability(value: CapabilityLike) -> media_pb.Capability.ValueType:
    try:
        return capability_by_name(value).value if isinstance(value, str) else capability_info(value).value
    except KeyError:
        raise PrizmError(
            grpc.StatusCode.INVALID_ARGUMENT, Reason.UNKNOWN_CAPABILITY, f"unknown capability {value!r}"
        ) from None


class PrizmClient:
    """Talks to a Prizm router: list the mesh, run jobs with live progress.

    Use as `async with PrizmClient() as client: ...`. Failed calls raise `PrizmError` with the
    status code, the stable reason and the details. A job refused before it started, with a status
    that says when to try again (`RetryInfo`: an overloaded router or provider), is tried again
    after that delay, up to `max_attempts` in all and within the deadline; never once an event of
    the job has reached the caller.
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
        """Connects to the router at `address` (see `router_address`).

        Args:
            address: `host:port` of the router.
            caller: A name for this caller, for the router's per-caller job limit;
                by default the router counts per host.
            timeout: Deadline of each job in seconds, unless the call gives one; None for none.
            max_attempts: The most tries of one job, 1 to never try again.
            tls: Dial over TLS with this CA (and client certificate); when None, from
                `PRIZM_TLS_CA`, `PRIZM_TLS_CERT` and `PRIZM_TLS_KEY`, else plaintext.
            api_key: The caller's API key or JWT, sent on every call; when None, `PRIZM_API_KEY`.
        """
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        self.address = router_address(address)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._metadata = (("prizm-caller", caller),) if caller else ()
        credential = api_key_from(os.environ) if api_key is None else api_key
        self._channel = open_channel(
            self.address, tls or caller_tls(os.environ), interceptors=bearer_interceptors(credential)
        )
        self._stub = router_grpc.RouterServiceStub(self._channel)
        self._uploads = Uploads(asset_grpc.AssetServiceStub(self._channel))

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

    async def watch_providers(self) -> AsyncIterator[router_pb.WatchProvidersResponse]:
        """Every endpoint the router knows (ADDED), then each change as it happens.

        Raises:
            PrizmError: The router could not be reached, or ended the stream with an error.
        """
        call = self._stub.WatchProviders(router_pb.WatchProvidersRequest())
        try:
            async for event in call:
                yield event
        except grpc.aio.AioRpcError as exc:
            raise PrizmError.from_rpc_error(exc) from None
        finally:
            call.cancel()

    async def providers_not_started(self, timeout: float | None = 10.0) -> list[router_pb.NotStartedProvider]:
        """The router's configured providers it did not start, each with what would enable it (a
        remote provider's key variable, e.g. `set OPENAI_API_KEY`)."""
        try:
            response = await self._stub.ListProviders(router_pb.ListProvidersRequest(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise PrizmError.from_rpc_error(exc) from None
        return list(response.not_started)

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

    async def upload(
        self, path: str | Path, mime_type: str = "", timeout: float | None = None
    ) -> media_pb.Asset:
        """Uploads a file to the router as it is read, and returns an input that refers to it.

        Any size works, with flat memory; the router keeps the asset for its lease (an hour by
        default) from its last use. The MIME type comes from the extension unless given.
        """
        return await self._uploads.upload(Path(path), mime_type, timeout)

    async def asset(self, path: str | Path, mime_type: str = "") -> media_pb.Asset:
        """An input for a file: its bytes inline when small, an upload when over the inline limit."""
        return await self._uploads.asset(Path(path), mime_type)

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
            Reason.NOT_READY,
            f"no {provider or 'provider'} serving {capability} at {self.address} within {timeout:g} s",
        )

    def _deadline(self, timeout: float | None) -> Deadline:
        return Deadline.after(self.timeout if timeout is None else timeout)

    async def _request(
        self, capability: CapabilityLike, inputs: Inputs, deadline: Deadline
    ) -> router_pb.RouterServiceTransformRequest:
        value = _capability(capability)
        assets = [
            item
            if isinstance(item, media_pb.Asset)
            else await self._uploads.asset(item.path, item.mime_type, item.field, deadline.remaining())
            for item in resolve_inputs(value, inputs)
        ]
        inline = await self._uploads.within_inline_limit(assets, deadline.remaining())
        return router_pb.RouterServiceTransformRequest(capability=value, inputs=inline)

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
    ) -> AsyncGenerator[Event, None]:
        """Runs a job and yields its events as they arrive: `Progress`, outputs, `Completion`.

        Breaking out of the loop (or cancelling the task) cancels the job on the provider. The
        arguments are those of `run`; `job_id` names the job (the router makes one when empty).
        """
        deadline = self._deadline(timeout)
        request = await self._request(capability, inputs, deadline)
        request.model, request.job_id = model, job_id
        request.options.CopyFrom(options_struct(options))
        if routing is not None:
            request.routing.CopyFrom(routing)
        attempt = 1
        while True:
            started = False
            events = read_apart(
                self._stub.Transform(request, timeout=deadline.remaining(), metadata=self._metadata)
            )
            try:
                async for message in events:
                    started = True
                    if (event := event_from_proto(message)) is not None:
                        yield event
                return
            except grpc.aio.AioRpcError as exc:
                error = PrizmError.from_rpc_error(exc)
                delay = None if started else retry_delay(error, attempt, self.max_attempts, deadline)
                if delay is None:
                    raise error from None
            finally:
                await events.aclose()  # cancels the call if it is still going
            logger.info("job refused (%s %s), trying again in %.2f s", error.code.name, error.reason, delay)
            await asyncio.sleep(delay)
            attempt += 1

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
            inputs: One input or a list. A `str` is the text for capabilities that take text and a
                file path for the others; a `Path` is always a file; `bytes` are UTF-8 text; an
                `Asset` is sent as it is. Files over the inline limit are uploaded.
            model: A model id; any model with the capability when empty.
            options: Model options, checked by the provider against its schema.
            routing: Provider, policy, max cost, fallback and wait-for-ready hints.
            timeout: Deadline for the whole job in seconds; the client's (600 s by default) when None.
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

    @staticmethod
    async def _describe(path: Path) -> media_pb.Asset:
        await asyncio.to_thread(file_size, path, "source")
        return await asyncio.to_thread(describe_file, path)

    async def convert(
        self,
        source: str | Path | media_pb.Asset,
        to: str | media_pb.MediaKind.ValueType,
        *,
        timeout: float | None = None,
        on_event: EventCallback | None = None,
        sink: OutputSink | None = None,
    ) -> Conversion:
        """The source as another kind of media, through one or two jobs of the live mesh.

        A video `to="text"`: its soundtrack (video-to-audio), then its words (audio-to-text); an mp3
        for a recogniser of WAV only: to WAV first. Steps pass through temporary files (any size).

        Args:
            source: A file (a `str` or `Path`) or an asset.
            to: The kind wanted: text, image, audio, video or 3d.
            timeout: Deadline for the whole conversion in seconds; the client's when None.
            on_event: Called with every event of every job.
            sink: Where the final output goes; in memory by default.

        Raises:
            PrizmError: FAILED_PRECONDITION NO_CONVERSION_PATH when the mesh has no way there.
        """
        current = source if isinstance(source, media_pb.Asset) else Path(source)
        media = current if isinstance(current, media_pb.Asset) else await self._describe(current)
        target = kind_by_name(to) if isinstance(to, str) else to
        steps = plan_conversion(await self.list_models(), media.kind, target, media.mime_type)
        if not steps:
            raise PrizmError(
                grpc.StatusCode.INVALID_ARGUMENT, Reason.NOTHING_TO_CONVERT, "the source is already that kind"
            )
        deadline = self._deadline(timeout)
        results: list[JobResult] = []
        with tempfile.TemporaryDirectory(prefix="prizm-convert-") as folder:
            for index, step in enumerate(steps):
                last = index == len(steps) - 1
                result = await self.run(
                    step.capability.name,
                    current,
                    model=step.model_id,
                    routing=router_pb.RoutingHints(provider=step.provider_id),
                    timeout=deadline.remaining(),
                    on_event=on_event,
                    sink=(sink or MemorySink()) if last else _step_files(Path(folder), index),
                )
                results.append(result)
                if not last:
                    current = result.outputs[0].path or Path(folder)
        return Conversion(capabilities=[step.capability.name for step in steps], steps=results)
