"""Turns a provider's domain events into the `Transform` stream: stamped, chunked, summarized."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb

from prizm_core.channels import CHUNK_BYTES
from prizm_core.options import options_struct
from provider_servers.sdk.convert import (
    cost_proto,
    duration_proto,
    media_kind_proto,
    progress_proto,
    usage_proto,
)
from provider_servers.sdk.jobs import Event, Job, Output, Progress, Usage
from provider_servers.sdk.served import JobRunner

__all__ = ["LINGER_S", "job_events"]

# Longest a partly filled output chunk waits for more bytes before it goes out as it is.
LINGER_S = 0.05


class _Stamper:
    """Numbers the events of one stream from 1 and tags them with the job id."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.sequence = 0

    def __call__(self, **event: Any) -> model_pb.TransformResponse:
        self.sequence += 1
        return model_pb.TransformResponse(job_id=self.job_id, sequence=self.sequence, **event)


def _slices(data: bytes, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield bytes(view[start : start + size])


async def _rechunk(
    stream: AsyncIterable[bytes], size: int, linger_s: float = LINGER_S
) -> AsyncIterator[bytes]:
    """Regroups a byte stream into chunks of `size` bytes (the last may be shorter).

    A partial chunk waits at most `linger_s` for more bytes: a fast stream goes out in full
    chunks, and audio a vendor streams as it speaks reaches the caller as it comes, not once half
    a megabyte has gathered.
    """
    pieces = aiter(stream)
    buffer = bytearray()
    ahead: asyncio.Future[bytes | None] | None = None
    try:
        while True:
            ahead = ahead or asyncio.ensure_future(anext(pieces, None))
            if buffer and not (await asyncio.wait({ahead}, timeout=linger_s))[0]:
                yield bytes(buffer)
                buffer.clear()
                continue
            piece, ahead = await ahead, None
            if piece is None:
                break
            buffer += piece
            while len(buffer) >= size:
                yield bytes(buffer[:size])
                del buffer[:size]
        if buffer:
            yield bytes(buffer)
    finally:
        if ahead is not None:
            ahead.cancel()


async def _chunks(output: Output, size: int) -> AsyncIterator[bytes]:
    if isinstance(output.data, bytes):
        for piece in _slices(output.data, size):
            yield piece
    else:
        async for piece in _rechunk(output.data, size):
            yield piece


async def _output_events(
    stamp: _Stamper, index: int, output: Output, summary: job_pb.OutputSummary, chunk_bytes: int
) -> AsyncIterator[model_pb.TransformResponse]:
    asset = media_pb.Asset(
        kind=media_kind_proto(output.kind), mime_type=output.mime_type, metadata=output.metadata
    )
    if isinstance(output.data, bytes):
        asset.size_bytes = len(output.data)
        asset.sha256 = hashlib.sha256(output.data).hexdigest()
    yield stamp(output_header=media_pb.AssetHeader(index=index, asset=asset))
    digest = hashlib.sha256()
    size = 0
    async for piece in _chunks(output, chunk_bytes):
        digest.update(piece)
        size += len(piece)
        yield stamp(output_chunk=media_pb.AssetChunk(index=index, data=piece))
    summary.index = index
    summary.size_bytes = size
    summary.sha256 = digest.hexdigest()


async def _after(first: Event | None, rest: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """`first` (unless None), then the rest of the events it came from."""
    if first is not None:
        yield first
    async for event in rest:
        yield event


async def job_events(
    provider: JobRunner, job: Job, chunk_bytes: int = CHUNK_BYTES
) -> AsyncIterator[model_pb.TransformResponse]:
    """Runs `job` on `provider` and yields its stream: a start, progress, outputs, a completion.

    Fractions are kept from going down, outputs are cut into chunks of
    `chunk_bytes` and hashed as they pass, and the completion carries usage,
    cost and provenance for every output.
    """
    started = time.monotonic()
    stamp = _Stamper(job.id)
    events = aiter(provider.transform(job))
    # The start goes out with the provider's first event, not before: until then the caller has been
    # told nothing, so a job that fails first (a vendor's 503 before it took the job) can still be
    # run elsewhere by the router.
    first = await anext(events, None)
    yield stamp(
        progress=job_pb.Progress(
            state=job_pb.JOB_STATE_STARTING, stage="start", message=f"{job.model.id} starting"
        )
    )
    summaries: list[job_pb.OutputSummary] = []
    usage = None
    highest = 0.0
    async for event in _after(first, events):
        if isinstance(event, Progress):
            message = progress_proto(event)
            if message.HasField("fraction"):
                highest = max(highest, message.fraction)
                message.fraction = highest
            yield stamp(progress=message)
        elif isinstance(event, Output):
            summary = job_pb.OutputSummary()
            async for response in _output_events(stamp, len(summaries), event, summary, chunk_bytes):
                yield response
            summaries.append(summary)
        elif isinstance(event, Usage):
            usage = dict(event.amounts)
    if usage is None:
        usage = dict(provider.measure(job))
    cost = cost_proto(job.model, usage)
    elapsed = duration_proto(time.monotonic() - started)
    for summary in summaries:
        summary.provenance.CopyFrom(
            media_pb.Provenance(
                provider_id=provider.id,
                model_id=job.model.id,
                options=options_struct(job.options),
                input_sha256=[asset.sha256 for asset in job.inputs],
                cost=cost,
                elapsed=elapsed,
                job_id=job.id,
            )
        )
    yield stamp(
        completion=job_pb.Completion(outputs=summaries, usage=usage_proto(usage), cost=cost, elapsed=elapsed)
    )
