"""The events of a job's stream as typed Python objects: progress, outputs as they arrive, completion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import duration_pb2, json_format
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.assets import kind_of_mime
from prizm_core.enums import JobState, MediaKind, MediaUnit
from prizm_core.errors import PrizmError, Reason

__all__ = [
    "Completion",
    "Cost",
    "Event",
    "OutputChunk",
    "OutputHeader",
    "OutputSummary",
    "Progress",
    "Provenance",
    "UnitAmount",
    "event_from_proto",
]


@dataclass(frozen=True)
class Cost:
    """An amount of money, e.g. `Cost(0.25, "USD")`."""

    amount: float = 0.0
    currency: str = ""

    def __str__(self) -> str:
        return f"{self.amount:g} {self.currency}".strip()


@dataclass(frozen=True)
class UnitAmount:
    """Work done in one media unit.

    Attributes:
        unit: The unit, e.g. `MediaUnit.OUTPUT_AUDIO_SECOND`.
        quantity: How many of it.
    """

    unit: MediaUnit
    quantity: float


@dataclass(frozen=True)
class Provenance:
    """Where an output came from: enough to reproduce or audit it.

    Attributes:
        provider_id: The provider that produced it.
        model_id: The model that produced it.
        options: The options used, with defaults filled in.
        input_sha256: SHA-256 of each input, in request order.
        cost: What producing it cost.
        elapsed_s: Wall time the provider spent, in seconds.
        job_id: The job that produced it.
    """

    provider_id: str = ""
    model_id: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    input_sha256: tuple[str, ...] = ()
    cost: Cost = Cost()
    elapsed_s: float = 0.0
    job_id: str = ""


@dataclass(frozen=True)
class Progress:
    """How a job is going.

    Attributes:
        job_id: The job, the same on every event of a stream.
        sequence: Position in the stream, from 1, without gaps.
        state: Where the job stands; None when the provider did not say.
        fraction: Share of the work done, 0 to 1; None when unknown.
        stage: Short machine-friendly name of the stage, e.g. `synthesize`.
        message: A human-readable line on what is happening.
        eta_s: Estimated seconds left; None when unknown.
        queue_position: Place in the provider's queue, 1 first; 0 when not queued.
        logs: Log lines from the provider since the last event.
        cost_so_far: What the job has cost so far.
    """

    job_id: str
    sequence: int
    state: JobState | None = None
    fraction: float | None = None
    stage: str = ""
    message: str = ""
    eta_s: float | None = None
    queue_position: int = 0
    logs: tuple[str, ...] = ()
    cost_so_far: Cost = Cost()

    def __str__(self) -> str:
        """One line for people, e.g. `42% synthesize · sentence 2/3 · about 3 s left`."""
        parts = [
            f"{self.fraction:.0%}" if self.fraction is not None else "",
            f"queued #{self.queue_position}" if self.queue_position else "",
            self.stage,
            self.message,
            f"about {self.eta_s:.0f} s left" if self.eta_s is not None else "",
        ]
        state = self.state.name.lower() if self.state else "working"
        return " · ".join(part for part in parts if part) or state


@dataclass(frozen=True)
class OutputHeader:
    """An output begins: its description; its bytes follow as `OutputChunk`s.

    After a restart the caller allowed, a header can come again for an index already seen: it
    replaces that output, whose earlier chunks must be dropped.

    Attributes:
        job_id: The job.
        sequence: Position in the stream.
        index: Position of the output among the job's outputs, from 0.
        kind: The kind of media, e.g. `MediaKind.AUDIO`.
        mime_type: The MIME type, e.g. `audio/wav`.
        metadata: Media metadata from the provider (duration, sample rate, ...).
    """

    job_id: str
    sequence: int
    index: int
    kind: MediaKind
    mime_type: str
    metadata: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"output {self.index}: {self.mime_type}"


@dataclass(frozen=True)
class OutputChunk:
    """The next bytes of output `index`."""

    job_id: str
    sequence: int
    index: int
    data: bytes = field(repr=False)

    def __str__(self) -> str:
        return f"output {self.index}: {len(self.data)} bytes"


@dataclass(frozen=True)
class OutputSummary:
    """What one output turned out to be: size, hash and provenance."""

    index: int
    size_bytes: int
    sha256: str
    provenance: Provenance


@dataclass(frozen=True)
class Completion:
    """The job is done; always the last event.

    Attributes:
        job_id: The job.
        sequence: Position in the stream.
        outputs: One summary per output, by index.
        usage: The work done, in media units.
        cost: What the job cost.
        elapsed_s: Wall time the provider spent on the job, in seconds.
    """

    job_id: str
    sequence: int
    outputs: tuple[OutputSummary, ...] = ()
    usage: tuple[UnitAmount, ...] = ()
    cost: Cost = Cost()
    elapsed_s: float = 0.0

    def __str__(self) -> str:
        outputs = f"{len(self.outputs)} output{'' if len(self.outputs) == 1 else 's'}"
        return f"done: {outputs} in {self.elapsed_s:.1f} s, cost {self.cost}"


Event = Progress | OutputHeader | OutputChunk | Completion
_UNIT_VALUES = frozenset(int(unit) for unit in MediaUnit)


def _seconds(duration: duration_pb2.Duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def _cost(cost: media_pb.Cost) -> Cost:
    return Cost(amount=cost.amount, currency=cost.currency)


def _provenance(provenance: media_pb.Provenance) -> Provenance:
    return Provenance(
        provider_id=provenance.provider_id,
        model_id=provenance.model_id,
        options=json_format.MessageToDict(provenance.options),
        input_sha256=tuple(provenance.input_sha256),
        cost=_cost(provenance.cost),
        elapsed_s=_seconds(provenance.elapsed),
        job_id=provenance.job_id,
    )


def _state(value: int) -> JobState | None:
    try:
        return JobState(value)
    except ValueError:  # unset, or a state added to the proto after this client was built
        return None


def _kind(job_id: str, header: media_pb.AssetHeader) -> MediaKind:
    for value in (header.asset.kind, kind_of_mime(header.asset.mime_type)):
        try:
            return MediaKind(value)
        except ValueError:
            continue
    raise PrizmError(
        grpc.StatusCode.DATA_LOSS,
        Reason.OUTPUT_CORRUPTED,
        f"output {header.index} of job {job_id} has no media kind",
    )


def _progress(job_id: str, sequence: int, progress: job_pb.Progress) -> Progress:
    return Progress(
        job_id=job_id,
        sequence=sequence,
        state=_state(progress.state),
        fraction=progress.fraction if progress.HasField("fraction") else None,
        stage=progress.stage,
        message=progress.message,
        eta_s=_seconds(progress.eta) if progress.HasField("eta") else None,
        queue_position=progress.queue_position,
        logs=tuple(progress.logs),
        cost_so_far=_cost(progress.cost_so_far),
    )


def _completion(job_id: str, sequence: int, completion: job_pb.Completion) -> Completion:
    return Completion(
        job_id=job_id,
        sequence=sequence,
        outputs=tuple(
            OutputSummary(
                index=summary.index,
                size_bytes=summary.size_bytes,
                sha256=summary.sha256,
                provenance=_provenance(summary.provenance),
            )
            for summary in completion.outputs
        ),
        # A unit added to the proto after this client was built cannot be named here: left out.
        usage=tuple(
            UnitAmount(MediaUnit(amount.unit), amount.quantity)
            for amount in completion.usage
            if int(amount.unit) in _UNIT_VALUES
        ),
        cost=_cost(completion.cost),
        elapsed_s=_seconds(completion.elapsed),
    )


def event_from_proto(message: router_pb.RouterServiceTransformResponse) -> Event | None:
    """The typed event of one `Transform` response; None for an event kind this client does not know.

    A newer router may send event kinds added to the `oneof` later; skipping them keeps an older
    client working.
    """
    job_id, sequence = message.job_id, message.sequence
    which = message.WhichOneof("event")
    if which == "progress":
        return _progress(job_id, sequence, message.progress)
    if which == "output_header":
        header = message.output_header
        return OutputHeader(
            job_id=job_id,
            sequence=sequence,
            index=header.index,
            kind=_kind(job_id, header),
            mime_type=header.asset.mime_type,
            metadata=dict(header.asset.metadata),
        )
    if which == "output_chunk":
        return OutputChunk(job_id, sequence, message.output_chunk.index, message.output_chunk.data)
    if which == "completion":
        return _completion(job_id, sequence, message.completion)
    return None
