"""What serving needs of a provider: the seams the stream and the servicers depend on.

They are protocols, not the `Provider` base class, so that serving does not import the class it
serves (no import cycle) and a test can serve any object that has these members.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

from prizm_core.enums import Capability, MediaUnit, ProviderKind
from provider_servers.sdk.jobs import Event, Job
from provider_servers.sdk.models import ModelSpec

__all__ = ["JobRunner", "ServedProvider"]


class JobRunner(Protocol):
    """What turning a job into its stream uses: who runs it, the work, and what it will cost."""

    @property
    def id(self) -> str:
        """The provider id stamped into provenance."""
        ...

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """The work `job` will take, when `transform` reports no usage of its own."""
        ...

    def transform(self, job: Job) -> AsyncIterator[Event]:
        """Does the job, yielding progress, outputs and optionally usage."""
        ...


class ServedProvider(JobRunner, Protocol):
    """What the `ProviderService` and `ModelService` servicers use of a provider."""

    @property
    def display_name(self) -> str:
        """Human-readable name."""
        ...

    @property
    def kind(self) -> ProviderKind:
        """Where the provider does its work."""
        ...

    @property
    def version(self) -> str:
        """The provider's own version."""
        ...

    @property
    def description(self) -> str:
        """What the provider is."""
        ...

    @property
    def managed_service(self) -> bool:
        """Whether `start_service` / `stop_service` manage a separate service."""
        ...

    def models(self) -> Sequence[ModelSpec]:
        """The provider's models; the first with a capability is its default for it."""
        ...

    @property
    def runs_unlisted_models(self) -> bool:
        """Whether `model_named` runs models the provider does not list."""
        ...

    def model_named(
        self, model_id: str, capability: Capability, options: Mapping[str, object]
    ) -> ModelSpec | None:
        """A model outside `models()` that runs by its id alone, or None to refuse the id."""
        ...

    def capabilities(self) -> list[Capability]:
        """Union of the models' capabilities, in enum order."""
        ...

    def check_inputs(self, job: Job) -> None:
        """Rejects inputs the model cannot take (a PrizmError), before any work starts."""
        ...

    def admit(self, job: Job) -> None:
        """Refuses a valid job with a PrizmError, or lets it start."""
        ...

    def configure(self, settings: Mapping[str, str]) -> list[str]:
        """Applies runtime settings and returns the names applied."""
        ...

    async def start_service(self) -> None:
        """Starts the service the provider works with."""
        ...

    async def stop_service(self) -> None:
        """Stops the service the provider works with."""
        ...
