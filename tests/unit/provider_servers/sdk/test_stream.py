"""A provider's domain events turned into the `Transform` stream: numbered, chunked, summarized."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Sequence

from google.protobuf import json_format
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb

from prizm_core.channels import CHUNK_BYTES
from provider_servers.sdk import (
    Capability,
    Event,
    InputAsset,
    Job,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    Progress,
    Provider,
    ProviderKind,
    Usage,
)
from provider_servers.sdk.stream import job_events

MIB = 1024 * 1024
_NOISE = random.Random(1)  # noqa: S311 - repeatable test bytes, not security
WAV_BYTES = _NOISE.randbytes(3 * MIB // 2)
STREAM_PIECES = [_NOISE.randbytes(n) for n in (100_000, 700_000, 3, 0, 600_001)]
STREAMED_BYTES = b"".join(STREAM_PIECES)

MODEL = ModelSpec(
    id="tone-1",
    display_name="Tone",
    description="Makes a tone.",
    capabilities=(Capability.TEXT_TO_AUDIO,),
    prices={MediaUnit.REQUEST: 0.01, MediaUnit.OUTPUT_AUDIO_SECOND: 0.002},
)


async def _pieces() -> AsyncIterator[bytes]:
    for piece in STREAM_PIECES:
        yield piece


class _ToneProvider(Provider):
    """Yields uneven progress, an output in one piece and one streamed, and optionally its usage."""

    id = "tone"
    display_name = "Tone"
    kind = ProviderKind.LOCAL

    def __init__(self, report_usage: bool = False) -> None:
        self.report_usage = report_usage

    def models(self) -> Sequence[ModelSpec]:
        return [MODEL]

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        yield Progress(fraction=0.5, stage="synth")
        yield Progress(fraction=0.2, stage="synth", message="went backwards")
        yield Progress(stage="encode")
        yield Progress(fraction=1.0, stage="done")
        yield Output(kind=MediaKind.AUDIO, mime_type="audio/wav", data=WAV_BYTES, metadata={"n": "1"})
        yield Output(kind=MediaKind.AUDIO, mime_type="audio/wav", data=_pieces())
        if self.report_usage:
            yield Usage({MediaUnit.OUTPUT_AUDIO_SECOND: 10.0})


JOB = Job(
    id="job-42",
    capability=Capability.TEXT_TO_AUDIO,
    model=MODEL,
    inputs=(InputAsset.inline(MediaKind.TEXT, "text/plain", b"hello"),),
    options={"speed": 1.5, "voice": "joe", "seed": 3},
)


async def _run(provider: Provider) -> list[model_pb.TransformResponse]:
    return [event async for event in job_events(provider, JOB)]


def _chunks(events: list[model_pb.TransformResponse], index: int) -> list[bytes]:
    return [
        e.output_chunk.data for e in events if e.HasField("output_chunk") and e.output_chunk.index == index
    ]


async def test_events_are_numbered_without_gaps_and_carry_the_job_id() -> None:
    events = await _run(_ToneProvider())
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert {e.job_id for e in events} == {"job-42"}
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "progress"
    assert events[0].progress.state == job_pb.JOB_STATE_STARTING
    assert kinds[-1] == "completion"
    assert kinds.count("completion") == 1
    assert kinds.count("output_header") == 2


async def test_fractions_never_go_down() -> None:
    progress = [e.progress for e in await _run(_ToneProvider()) if e.HasField("progress")]
    assert [p.stage for p in progress] == ["start", "synth", "synth", "encode", "done"]
    assert [p.fraction if p.HasField("fraction") else None for p in progress] == [None, 0.5, 0.5, None, 1.0]
    assert progress[2].message == "went backwards"


async def test_outputs_come_whole_in_order_in_bounded_chunks() -> None:
    events = await _run(_ToneProvider())
    layout = [
        (
            e.WhichOneof("event"),
            e.output_header.index if e.HasField("output_header") else e.output_chunk.index,
        )
        for e in events
        if e.HasField("output_header") or e.HasField("output_chunk")
    ]
    streamed_count = len(layout) - 5
    assert streamed_count >= 3
    expected = [("output_header", 0), *[("output_chunk", 0)] * 3, ("output_header", 1)]
    assert layout == expected + [("output_chunk", 1)] * streamed_count

    whole = _chunks(events, 0)
    assert [len(c) for c in whole] == [CHUNK_BYTES] * 3
    assert b"".join(whole) == WAV_BYTES

    streamed = _chunks(events, 1)
    assert all(len(c) == CHUNK_BYTES for c in streamed[:-1])
    assert 0 < len(streamed[-1]) <= CHUNK_BYTES
    assert b"".join(streamed) == STREAMED_BYTES


async def test_headers_describe_the_outputs() -> None:
    headers = [e.output_header for e in await _run(_ToneProvider()) if e.HasField("output_header")]
    first, second = headers
    assert (first.index, first.asset.kind, first.asset.mime_type) == (
        0,
        media_pb.MEDIA_KIND_AUDIO,
        "audio/wav",
    )
    assert first.asset.size_bytes == len(WAV_BYTES)
    assert first.asset.sha256 == hashlib.sha256(WAV_BYTES).hexdigest()
    assert dict(first.asset.metadata) == {"n": "1"}
    # A streamed output's size and hash are known only at the end, in the completion.
    assert (second.index, second.asset.size_bytes, second.asset.sha256) == (1, 0, "")


async def test_completion_summarizes_each_output_with_provenance() -> None:
    completion = (await _run(_ToneProvider()))[-1].completion
    expected = [(0, WAV_BYTES), (1, STREAMED_BYTES)]
    assert [(s.index, s.size_bytes, s.sha256) for s in completion.outputs] == [
        (i, len(data), hashlib.sha256(data).hexdigest()) for i, data in expected
    ]
    for summary in completion.outputs:
        provenance = summary.provenance
        assert (provenance.provider_id, provenance.model_id, provenance.job_id) == (
            "tone",
            "tone-1",
            "job-42",
        )
        assert json_format.MessageToDict(provenance.options) == {"speed": 1.5, "voice": "joe", "seed": 3}
        assert list(provenance.input_sha256) == [hashlib.sha256(b"hello").hexdigest()]
        assert provenance.cost == completion.cost
        assert provenance.elapsed == completion.elapsed
    # Without reported usage the estimate stands: one request.
    assert [(u.unit, u.quantity) for u in completion.usage] == [(catalog_pb.MEDIA_UNIT_REQUEST, 1.0)]
    assert (completion.cost.currency, completion.cost.amount) == ("USD", 0.01)


async def test_reported_usage_replaces_the_estimate() -> None:
    completion = (await _run(_ToneProvider(report_usage=True)))[-1].completion
    assert [(u.unit, u.quantity) for u in completion.usage] == [
        (catalog_pb.MEDIA_UNIT_OUTPUT_AUDIO_SECOND, 10.0)
    ]
    assert completion.cost.amount == 0.02
    assert all(s.provenance.cost.amount == 0.02 for s in completion.outputs)


class _PlainRunner:
    """Not a `Provider`: the stream needs only an id, `measure` and `transform`."""

    id = "plain"

    def measure(self, job: Job) -> dict[MediaUnit, float]:
        return {MediaUnit.INPUT_CHARACTER: float(len(job.inputs[0].read()))}

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        yield Output(kind=MediaKind.TEXT, mime_type="text/plain", data=job.inputs[0].read().upper())


async def test_any_object_with_the_runner_members_can_be_streamed() -> None:
    events = [event async for event in job_events(_PlainRunner(), JOB)]
    assert b"".join(_chunks(events, 0)) == b"HELLO"
    assert events[1].output_header.asset.kind == media_pb.MEDIA_KIND_TEXT
    completion = events[-1].completion
    assert completion.outputs[0].provenance.provider_id == "plain"
    assert [(u.unit, u.quantity) for u in completion.usage] == [(catalog_pb.MEDIA_UNIT_INPUT_CHARACTER, 5.0)]
