"""The base class every provider subclasses: describe yourself, warm up, transform."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import ClassVar, Self

import grpc

from prizm_core.capabilities import capability_info
from prizm_core.enums import Capability, MediaKind, MediaUnit, ProviderKind
from prizm_core.errors import PrizmError, Reason, invalid_argument, unknown_settings
from provider_servers.sdk.health import Health
from provider_servers.sdk.jobs import Event, Job
from provider_servers.sdk.models import ModelSpec

__all__ = ["Provider"]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Provider(abc.ABC):
    """A provider: it describes itself and its models, and does the work.

    Subclasses set the class attributes, list their models and implement
    `transform`. How it is served is not its concern: `run_provider` (the
    harness) owns the server, health, validation, chunking, provenance,
    cancellation and shutdown for any subclass.

    Attributes:
        id: Provider id, lower-case, unique in a mesh; set in the class body.
        display_name: Human-readable name.
        kind: Where it does its work.
        version: The provider's own version.
        description: What it is, in a sentence.
        max_concurrent_jobs: Most jobs at once; 0 means no limit.
        health_interval_s: Seconds between `check_health` calls once warm; 0 means never.
    """

    # Set in the class body; an instance may override `id` (e.g. from its environment).
    id: str
    display_name: ClassVar[str]
    kind: ClassVar[ProviderKind]
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = ""
    # Most jobs at once; more are refused (RESOURCE_EXHAUSTED) so the router can go elsewhere.
    # 0 means no limit. `serve-provider --max-jobs N` overrides it.
    max_concurrent_jobs: ClassVar[int] = 8
    # Seconds between `check_health` calls once warm; 0 means never (healthy while it runs).
    health_interval_s: ClassVar[float] = 0.0
    # Whether `model_named` runs models it does not list: the router then sends it jobs naming one.
    runs_unlisted_models: ClassVar[bool] = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        """Builds the provider from its settings in `environ`; the one place it reads them."""
        del environ
        return cls()

    @classmethod
    def missing(cls) -> list[str]:
        """What this machine lacks for the provider to run, each with how to get it; empty if nothing.

        The harness refuses to start (exit status 78) and prints these, so `prizm up` skips the
        provider with the hint instead of restarting it.
        """
        return []

    @abc.abstractmethod
    def models(self) -> Sequence[ModelSpec]:
        """The provider's models; the first with a capability is its default for it."""

    async def warm_up(self) -> None:
        """Loads what the first job needs. The server is NOT_SERVING until this returns."""

    async def close(self) -> None:
        """Releases what `warm_up` loaded; called once after the server has drained."""

    async def check_health(self) -> Health:
        """Whether the provider can take jobs now, asked every `health_interval_s` once warm.

        A provider whose work depends on something outside it (a vendor's API) overrides this and
        sets `health_interval_s`; the harness turns NOT_SERVING, with the detail in the service
        status, while it says not serving, and SERVING again when it recovers. It must be cheap:
        never a call that costs money. Default: serving.
        """
        return Health(True, "ready")

    def model_named(
        self, model_id: str, capability: Capability, options: Mapping[str, object]
    ) -> ModelSpec | None:
        """A model outside `models()` that runs by its id alone, or None to refuse the id (the default).

        For a hosted API whose every endpoint is a model (fal), with `runs_unlisted_models` set so
        that the router sends such jobs here: the spec returned is checked like any other, so it
        declares the parameters the job's `options` may use.
        """
        del model_id, capability, options
        return None

    def check_inputs(self, job: Job) -> None:
        """Rejects inputs the model cannot take, before any work starts.

        The default checks the number of inputs, their kind against the
        capability and their MIME type against the model's list.

        Raises:
            PrizmError: INVALID_ARGUMENT with field violations.
        """
        expected = MediaKind(capability_info(job.capability).input_kind)
        violations: list[tuple[str, str]] = []
        if not job.inputs:
            violations.append(("inputs", "at least one input is required"))
        if len(job.inputs) > job.model.max_inputs:
            violations.append(("inputs", f"at most {job.model.max_inputs} input(s) accepted"))
        for index, asset in enumerate(job.inputs):
            if asset.kind != expected:
                violations.append((f"inputs[{index}].kind", f"must be {expected.name}"))
            if asset.kind == MediaKind.TEXT and not _is_utf8(asset.read()):
                violations.append((f"inputs[{index}].data", "text must be UTF-8"))
            accepted = job.model.input_mime_types
            if accepted and asset.mime_type.split(";")[0].strip() not in accepted:
                violations.append((f"inputs[{index}].mime_type", f"must be one of {', '.join(accepted)}"))
        if violations:
            raise invalid_argument(violations)

    def admit(self, job: Job) -> None:
        """Last word before a valid job starts: raise a PrizmError to refuse it. Default: admit."""

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """The work `job` will take, in media units, for cost estimates. Default: one request."""
        del job
        return {MediaUnit.REQUEST: 1.0}

    @abc.abstractmethod
    def transform(self, job: Job) -> AsyncIterator[Event]:
        """Does the job, yielding progress, then outputs, then optionally the actual usage.

        Cancellation arrives as `asyncio.CancelledError` at an `await`; blocking
        work must run in small steps (`asyncio.to_thread`) or in a subprocess
        that is killed on cancel.
        """

    def configure(self, settings: Mapping[str, str]) -> list[str]:
        """Applies runtime settings and returns the names applied. Default: accepts none."""
        if settings:
            raise unknown_settings(settings)
        return []

    async def start_service(self) -> None:
        """Starts the service the provider works with. Default: the service is in-process."""

    async def stop_service(self) -> None:
        """Stops the service the provider works with. Default: refused, it is in-process."""
        raise PrizmError(
            grpc.StatusCode.FAILED_PRECONDITION,
            Reason.SERVICE_NOT_MANAGED,
            f"provider {self.id} runs in-process and has no service to stop",
        )

    @property
    def managed_service(self) -> bool:
        """Whether `start_service` / `stop_service` manage a separate service."""
        return False

    def capabilities(self) -> list[Capability]:
        """Union of the models' capabilities, in enum order."""
        found = {cap for model in self.models() for cap in model.capabilities}
        return sorted(found)
