"""A job as a provider sees it, and the events a provider's `transform` yields."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prizm_core.enums import Capability, JobState, MediaKind, MediaUnit
from provider_servers.sdk.models import ModelSpec, OptionValue

__all__ = ["Event", "InputAsset", "Job", "Output", "Progress", "Usage"]


@dataclass(frozen=True)
class InputAsset:
    """An input asset: its bytes inline, or the file it was downloaded to when sent by reference.

    Attributes:
        kind: Media kind.
        mime_type: MIME type.
        sha256: Lower-case hex SHA-256 of the content.
        size_bytes: Size of the content.
        data: The content, for inputs sent inline.
        path: A file holding the content, for inputs sent by reference (in the job's workdir).
        metadata: Media metadata from the caller.
    """

    kind: MediaKind
    mime_type: str
    sha256: str
    size_bytes: int
    data: bytes | None = None
    path: Path | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def inline(
        cls,
        kind: MediaKind,
        mime_type: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
    ) -> InputAsset:
        """An input held in memory."""
        sha256 = hashlib.sha256(data).hexdigest()
        return cls(kind, mime_type, sha256, len(data), data=data, metadata=dict(metadata or {}))

    def read(self) -> bytes:
        """The whole content (read from its file for inputs sent by reference)."""
        if self.data is not None:
            return self.data
        assert self.path is not None  # noqa: S101 - one of the two is always set
        return self.path.read_bytes()

    def text(self) -> str:
        """The content decoded as UTF-8 text."""
        return self.read().decode("utf-8")

    def file(self, directory: Path, name: str) -> Path:
        """A file holding the content: its own, or one written into `directory` for inline inputs."""
        if self.path is not None:
            return self.path
        target = directory / name
        target.write_bytes(self.read())
        return target


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
        workdir: A folder of the job's own for temporary files, deleted when the job ends.
    """

    id: str
    capability: Capability
    model: ModelSpec
    inputs: tuple[InputAsset, ...]
    options: Mapping[str, OptionValue]
    deadline: float | None = None
    metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    workdir: Path = field(default_factory=Path)


@dataclass(frozen=True)
class Progress:
    """How a job is going.

    Attributes:
        fraction: How much is done, 0 to 1; None when unknown. It must not go
            down (the stream keeps it from doing so).
        stage: A short machine-readable name of the step, e.g. `encode`.
        message: What is happening, for people.
        state: Where the job is; RUNNING unless it waits in a queue or uploads.
        eta_s: Seconds until the job is done, when the provider can tell.
        logs: Lines of the tool's log worth showing.
        queue_position: Place in a queue (state QUEUED); 0 when not queued.
    """

    fraction: float | None = None
    stage: str = ""
    message: str = ""
    state: JobState = JobState.RUNNING
    eta_s: float | None = None
    logs: tuple[str, ...] = ()
    queue_position: int = 0


@dataclass(frozen=True)
class Output:
    """An output asset: all its bytes, or an async stream of them.

    Attributes:
        kind: Media kind.
        mime_type: MIME type, e.g. `audio/wav`.
        data: The bytes, or an async iterable of them (cut into chunks and
            hashed as they pass).
        metadata: Media metadata, e.g. `{"sample_rate": "22050"}`.
    """

    kind: MediaKind
    mime_type: str
    data: bytes | AsyncIterable[bytes]
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    """The work a job actually did, in media units; replaces the estimate in the completion.

    Attributes:
        amounts: Quantity per media unit, e.g. `{MediaUnit.OUTPUT_AUDIO_SECOND: 3.2}`.
    """

    amounts: Mapping[MediaUnit, float]


Event = Progress | Output | Usage
