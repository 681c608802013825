"""A job as a provider sees it, and the events a provider's `transform` yields."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field

from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb

from provider_servers.sdk.models import ModelSpec, OptionValue

__all__ = ["Event", "InputAsset", "Job", "Output", "Progress", "Usage"]


@dataclass(frozen=True)
class InputAsset:
    """An input asset with its content."""

    kind: media_pb.MediaKind.ValueType
    mime_type: str
    data: bytes
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the content."""
        return hashlib.sha256(self.data).hexdigest()

    def text(self) -> str:
        """The content decoded as UTF-8 text."""
        return self.data.decode("utf-8")


@dataclass(frozen=True)
class Job:
    """One validated job: the model resolved, options checked and defaults filled in.

    Attributes:
        id: Job id, as the router or caller set it.
        capability: What to do.
        model: The model doing it.
        inputs: Input assets, in request order.
        options: Options with defaults filled in.
        deadline: Wall-clock time (`time.time()`) by which the caller gives up; None if never.
        metadata: Caller metadata the router forwarded (trace context and allow-listed keys).
    """

    id: str
    capability: media_pb.Capability.ValueType
    model: ModelSpec
    inputs: tuple[InputAsset, ...]
    options: Mapping[str, OptionValue]
    deadline: float | None = None
    metadata: Mapping[str, str | bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """How a job is going. Fractions must not go down."""

    fraction: float | None = None
    stage: str = ""
    message: str = ""
    state: job_pb.JobState.ValueType = job_pb.JOB_STATE_RUNNING
    eta_s: float | None = None
    logs: tuple[str, ...] = ()
    queue_position: int = 0


@dataclass(frozen=True)
class Output:
    """An output asset: all its bytes, or an async stream of them."""

    kind: media_pb.MediaKind.ValueType
    mime_type: str
    data: bytes | AsyncIterable[bytes]
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    """The work a job actually did, in media units; replaces the estimate in the completion."""

    amounts: Mapping[catalog_pb.MediaUnit.ValueType, float]


Event = Progress | Output | Usage
