"""Synthetic: a provider for tests and benchmarks with a configurable pace, event count and output size."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence

from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core import __version__
from provider_servers.sdk import Event, Job, ModelSpec, Output, Param, Progress, Provider

__all__ = ["SyntheticProvider", "synthetic_output"]

_PIECE_BYTES = 1024 * 1024

MODEL = ModelSpec(
    id="synthetic-v1",
    display_name="Synthetic text generator",
    description=(
        "Not a model: repeats the input text up to `output_bytes`, after `events` progress "
        "events `interval_ms` apart. Built to test and benchmark the mesh."
    ),
    capabilities=(media_pb.CAPABILITY_TEXT_TO_TEXT,),
    parameters=(
        Param(
            "events", "integer", "Progress events before the output.", default=10, minimum=0, maximum=100_000
        ),
        Param(
            "interval_ms", "number", "Pause before each event.", default=0.0, minimum=0.0, maximum=600_000.0
        ),
        Param("output_bytes", "integer", "Size of the output.", default=1024, minimum=0, maximum=2**34),
    ),
    prices={catalog_pb.MEDIA_UNIT_REQUEST: 0.0},
    input_mime_types=("text/plain",),
    output_mime_type="text/plain; charset=utf-8",
)


def synthetic_output(seed: bytes, size: int) -> bytes:
    """The output for input `seed` and `size`: the seed repeated and cut to `size` bytes."""
    seed = seed or b"."
    return (seed * (size // len(seed) + 1))[:size]


async def _pieces(seed: bytes, size: int) -> AsyncIterator[bytes]:
    block = synthetic_output(seed, _PIECE_BYTES + len(seed))
    sent = 0
    while sent < size:
        # Each piece starts where the repetition left off, so the whole equals synthetic_output.
        offset = sent % len(seed)
        piece = block[offset : offset + min(_PIECE_BYTES, size - sent)]
        sent += len(piece)
        yield piece
        await asyncio.sleep(0)


def _deadline(job: Job) -> str:
    if job.deadline is None:
        return "no deadline"
    return f"deadline at {job.deadline:.3f} (in {job.deadline - time.time():.3f} s)"


class SyntheticProvider(Provider):
    """Deterministic output and progress at a set pace, for tests and benchmarks."""

    id = "synthetic"
    display_name = "Synthetic"
    kind = catalog_pb.PROVIDER_KIND_LOCAL
    version = __version__
    description = "A test and benchmark provider: deterministic text out at a configurable pace."

    def models(self) -> Sequence[ModelSpec]:
        """The one synthetic model."""
        return [MODEL]

    def measure(self, job: Job) -> Mapping[catalog_pb.MediaUnit.ValueType, float]:
        """One request."""
        return {catalog_pb.MEDIA_UNIT_REQUEST: 1.0}

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Sleeps and reports `events` times, then streams the output."""
        events, size = int(job.options["events"]), int(job.options["output_bytes"])
        interval = float(job.options["interval_ms"]) / 1000.0
        for done in range(1, events + 1):
            if interval:
                await asyncio.sleep(interval)
            yield Progress(
                fraction=done / events, stage="synthetic", message=f"event {done}/{events}; {_deadline(job)}"
            )
        seed = job.inputs[0].data or b"."
        yield Output(
            kind=media_pb.MEDIA_KIND_TEXT,
            mime_type="text/plain; charset=utf-8",
            data=_pieces(seed, size),
            metadata={"output_bytes": str(size)},
        )
