"""`ProviderService` and `ModelService` for one provider: requests in, domain calls, messages out."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import provider_service_pb2 as provider_pb

from prizm_core.assets import ASSET_SOURCE_HEADER, ASSET_URI_SCHEME, check_inline_inputs
from prizm_core.capabilities import capability_info
from prizm_core.channels import CHUNK_BYTES
from prizm_core.enums import Capability, MediaKind
from prizm_core.errors import PrizmError, Reason, invalid_argument
from prizm_core.ids import checked_job_id
from prizm_core.logs import RATE_LIMIT, secret_values
from prizm_core.options import options_struct
from prizm_core.runtime_secrets import redact_from_now_on
from prizm_core.telemetry.log_context import bind_job
from prizm_core.telemetry.metrics import ProviderMetrics
from prizm_core.telemetry.tracing import annotate_job
from provider_servers.sdk.capacity import JobTracker
from provider_servers.sdk.convert import (
    capability_proto,
    cost_proto,
    model_proto,
    provider_kind_proto,
    usage_proto,
)
from provider_servers.sdk.fetch import fetch_asset
from provider_servers.sdk.jobs import InputAsset, Job
from provider_servers.sdk.models import ModelSpec
from provider_servers.sdk.options import option_values, resolve_options
from provider_servers.sdk.served import ServedProvider
from provider_servers.sdk.stream import job_events

__all__ = ["ModelServicer", "ProviderServicer"]

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]


class JobRequest(Protocol):
    """The fields `TransformRequest`, `EstimateCostRequest` and `ValidateInputRequest` share."""

    @property
    def capability(self) -> media_pb.Capability.ValueType: ...
    @property
    def model(self) -> str: ...
    @property
    def inputs(self) -> Any: ...
    @property
    def options(self) -> Any: ...


def _media_kind(index: int, value: int) -> MediaKind:
    """The input's kind; an unset or unknown number is refused here, as no `MediaKind` holds it."""
    try:
        return MediaKind(value)
    except ValueError:
        problem = "is required" if value == media_pb.MEDIA_KIND_UNSPECIFIED else f"unknown media kind {value}"
        raise invalid_argument([(f"inputs[{index}].kind", problem)]) from None


async def _input_asset(index: int, asset: media_pb.Asset, context: Context, workdir: Path) -> InputAsset:
    """An input from its inline bytes, or downloaded from the router that sent it by reference."""
    if asset.WhichOneof("source") == "uri":
        source = _metadata(context).get(ASSET_SOURCE_HEADER, "")
        if not asset.uri.startswith(ASSET_URI_SCHEME) or not isinstance(source, str) or not source:
            raise invalid_argument(
                [(f"inputs[{index}].uri", f"only {ASSET_URI_SCHEME} URIs, through a router, are accepted")],
                reason=Reason.UNSUPPORTED_ASSET_SOURCE,
            )
        path = workdir / f"input-{index}"
        header = await fetch_asset(source, asset.uri, path)
        return InputAsset(
            kind=_media_kind(index, asset.kind or header.kind),
            mime_type=asset.mime_type or header.mime_type,
            sha256=header.sha256,
            size_bytes=header.size_bytes,
            path=path,
            metadata={**header.metadata, **asset.metadata},
        )
    if asset.sha256 and asset.sha256.lower() != hashlib.sha256(asset.data).hexdigest():
        raise invalid_argument(
            [(f"inputs[{index}].sha256", "does not match the data")], reason=Reason.ASSET_HASH_MISMATCH
        )
    kind = _media_kind(index, asset.kind)
    return InputAsset.inline(kind, asset.mime_type, asset.data, dict(asset.metadata))


def _capability(value: int) -> Capability:
    """The job's capability; an unset or unknown number is refused here, as no `Capability` holds it."""
    if value == media_pb.CAPABILITY_UNSPECIFIED:
        raise invalid_argument([("capability", "is required")])
    try:
        return Capability(value)
    except ValueError:
        raise invalid_argument([("capability", f"unknown capability {value}")]) from None


def _metadata(context: Context) -> dict[str, str | bytes]:
    return {k: v for k, v in context.invocation_metadata() or () if not k.startswith(":")}


class ModelServicer:
    """`prizm.v1.ModelService` for one provider."""

    def __init__(
        self,
        provider: ServedProvider,
        tracker: JobTracker,
        chunk_bytes: int = CHUNK_BYTES,
        metrics: ProviderMetrics | None = None,
    ) -> None:
        self.provider = provider
        self.tracker = tracker
        self.chunk_bytes = chunk_bytes
        self.metrics = metrics or ProviderMetrics()

    def _model(self, capability: Capability, model_id: str, options: dict[str, object]) -> ModelSpec:
        wanted = capability_info(capability).name
        models = self.provider.models()
        if model_id:
            model = next((m for m in models if m.id == model_id), None)
            model = model or self.provider.model_named(model_id, capability, options)
            if model is None:
                known = ", ".join(m.id for m in models)
                raise PrizmError(
                    grpc.StatusCode.NOT_FOUND,
                    Reason.MODEL_NOT_FOUND,
                    f"provider {self.provider.id} has no model {model_id!r}; it has: {known}",
                )
            if capability not in model.capabilities:
                violation = ("capability", f"model {model_id} cannot do {wanted}")
                raise invalid_argument([violation], reason=Reason.UNSUPPORTED_CAPABILITY)
            return model
        model = next((m for m in models if capability in m.capabilities), None)
        if model is None:
            violation = ("capability", f"provider {self.provider.id} cannot do {wanted}")
            raise invalid_argument([violation], reason=Reason.UNSUPPORTED_CAPABILITY)
        return model

    async def job(self, request: JobRequest, context: Context, workdir: Path, job_id: str = "") -> Job:
        """Validates a request into a job before any work starts: model and options first, then
        the inputs (downloading those sent by reference into `workdir`), then the provider's checks."""
        check_inline_inputs(request.inputs)
        capability = _capability(request.capability)
        given = option_values(request.options)
        model = self._model(capability, request.model, given)
        options = resolve_options(model.parameters, given, unchecked=model.unchecked_options)
        job_id = checked_job_id(job_id)
        inputs = tuple(
            [await _input_asset(i, asset, context, workdir) for i, asset in enumerate(request.inputs)]
        )
        remaining = context.time_remaining()
        job = Job(
            id=job_id,
            capability=capability,
            model=model,
            inputs=inputs,
            options=options,
            deadline=None if remaining is None else time.time() + remaining,
            metadata=_metadata(context),
            workdir=workdir,
        )
        self.provider.check_inputs(job)
        return job

    async def Transform(  # noqa: N802 - gRPC method name
        self, request: model_pb.TransformRequest, context: Context
    ) -> AsyncIterator[model_pb.TransformResponse]:
        """Runs a job and streams its events; its workdir goes with it, however it ends."""
        with tempfile.TemporaryDirectory(prefix="prizm-job-") as workdir:
            with self.tracker.refusals():
                job = await self.job(request, context, Path(workdir), request.job_id)
                bind_job(job.id, str(job.metadata.get("prizm-caller", "")) or context.peer())  # its log lines
                annotate_job(job.id, request.capability, job.model.id, self.provider.id)
                self.provider.admit(job)
            outcome = "cancelled"
            listed = {model.id for model in self.provider.models()}
            with self.tracker.track(), self.metrics.job(request.capability, job.model.id, listed):
                left = (
                    "no deadline"
                    if job.deadline is None
                    else f"deadline in {job.deadline - time.time():.3f} s"
                )
                log.info("job %s started on %s (model %s, %s)", job.id, self.provider.id, job.model.id, left)
                try:
                    async for event in job_events(self.provider, job, self.chunk_bytes):
                        yield event
                    outcome = "completed"
                except Exception:
                    outcome = "failed"
                    raise
                finally:
                    log.info("job %s %s", job.id, outcome)

    async def EstimateCost(  # noqa: N802 - gRPC method name
        self, request: model_pb.EstimateCostRequest, context: Context
    ) -> model_pb.EstimateCostResponse:
        """Estimates a job's cost from the model's prices and the provider's measure."""
        with tempfile.TemporaryDirectory(prefix="prizm-job-") as workdir:
            job = await self.job(request, context, Path(workdir))
            usage = self.provider.measure(job)
        return model_pb.EstimateCostResponse(
            cost=cost_proto(job.model, usage), usage=usage_proto(usage), model_id=job.model.id
        )

    async def ValidateInput(  # noqa: N802 - gRPC method name
        self, request: model_pb.ValidateInputRequest, context: Context
    ) -> model_pb.ValidateInputResponse:
        """Validates a job and returns the options it would run with."""
        with tempfile.TemporaryDirectory(prefix="prizm-job-") as workdir:
            job = await self.job(request, context, Path(workdir))
        return model_pb.ValidateInputResponse(options=options_struct(job.options), model_id=job.model.id)


class ProviderServicer:
    """`prizm.v1.ProviderService` for one provider."""

    def __init__(
        self, provider: ServedProvider, tracker: JobTracker, on_service: Callable[[bool], Awaitable[None]]
    ) -> None:
        self.provider = provider
        self.tracker = tracker
        self.on_service = on_service
        self.state: provider_pb.ServiceState.ValueType = provider_pb.SERVICE_STATE_STARTING
        self.detail = "warming up"
        # Set by `Configure`: the health watch checks again at once (a new key may fix a refused one).
        self.recheck = asyncio.Event()

    async def set_running(self, running: bool, detail: str) -> None:
        """Records the service's state, opens or closes the job slots and sets health to match."""
        self.state = provider_pb.SERVICE_STATE_RUNNING if running else provider_pb.SERVICE_STATE_STOPPED
        self.detail = detail
        self.tracker.running = running
        await self.on_service(running)

    def info(self) -> catalog_pb.ProviderInfo:
        """The provider's identity."""
        p = self.provider
        return catalog_pb.ProviderInfo(
            id=p.id,
            display_name=p.display_name,
            kind=provider_kind_proto(p.kind),
            capabilities=[capability_proto(capability) for capability in p.capabilities()],
            version=p.version,
            description=p.description,
            runs_unlisted_models=p.runs_unlisted_models,
        )

    def status(self) -> provider_pb.ServiceStatus:
        """The service's state and job counts."""
        return provider_pb.ServiceStatus(
            state=self.state,
            detail=self.detail,
            managed=self.provider.managed_service,
            active_jobs=self.tracker.active,
            finished_jobs=self.tracker.finished,
            rejected_jobs=self.tracker.rejected,
            max_jobs=self.tracker.max_jobs,
        )

    async def GetProviderInfo(  # noqa: N802 - gRPC method name
        self, request: provider_pb.GetProviderInfoRequest, context: Context
    ) -> provider_pb.GetProviderInfoResponse:
        """Returns the provider's identity."""
        return provider_pb.GetProviderInfoResponse(provider=self.info())

    async def ListModels(  # noqa: N802 - gRPC method name
        self, request: provider_pb.ListModelsRequest, context: Context
    ) -> provider_pb.ListModelsResponse:
        """Lists the models, optionally only those with a capability."""
        wanted = int(request.capability)
        models = [
            model_proto(m)
            for m in self.provider.models()
            if wanted == media_pb.CAPABILITY_UNSPECIFIED or wanted in m.capabilities
        ]
        return provider_pb.ListModelsResponse(models=models)

    async def GetServiceStatus(  # noqa: N802 - gRPC method name
        self, request: provider_pb.GetServiceStatusRequest, context: Context
    ) -> provider_pb.GetServiceStatusResponse:
        """Returns the service status."""
        return provider_pb.GetServiceStatusResponse(status=self.status())

    async def StartService(  # noqa: N802 - gRPC method name
        self, request: provider_pb.StartServiceRequest, context: Context
    ) -> provider_pb.StartServiceResponse:
        """Starts the provider's service; a managed one turns SERVING."""
        await self.provider.start_service()
        if self.provider.managed_service:
            await self.set_running(True, "started")
        return provider_pb.StartServiceResponse(status=self.status())

    async def StopService(  # noqa: N802 - gRPC method name
        self, request: provider_pb.StopServiceRequest, context: Context
    ) -> provider_pb.StopServiceResponse:
        """Stops the provider's service; a managed one turns NOT_SERVING and takes no jobs."""
        await self.provider.stop_service()
        await self.set_running(False, "stopped")
        return provider_pb.StopServiceResponse(status=self.status())

    async def Configure(  # noqa: N802 - gRPC method name
        self, request: provider_pb.ConfigureRequest, context: Context
    ) -> provider_pb.ConfigureResponse:
        """Applies runtime settings; their values are never logged."""
        # A key set now is in no environment variable the log redacts: it learns it first.
        redact_from_now_on(secret_values(request.settings))
        applied = self.provider.configure(dict(request.settings))
        self.recheck.set()
        log.info("configured settings: %s", ", ".join(sorted(applied)) or "none", extra={RATE_LIMIT: True})
        return provider_pb.ConfigureResponse(applied=sorted(applied))
