"""A router's `Transform` responses as typed events: every field, unknown values, one-line forms."""

from __future__ import annotations

import dataclasses

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client.events import (
    Completion,
    Cost,
    OutputChunk,
    OutputHeader,
    OutputSummary,
    Progress,
    Provenance,
    UnitAmount,
    event_from_proto,
)
from prizm_core.enums import JobState, MediaKind, MediaUnit
from prizm_core.errors import PrizmError

Response = router_pb.RouterServiceTransformResponse
JOB = "job-1"


def _seconds(value: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(round(value * 1e9))
    return duration


def test_progress_carries_every_field() -> None:
    progress = job_pb.Progress(
        state=job_pb.JOB_STATE_QUEUED,
        queue_position=3,
        fraction=0.25,
        stage="synthesize",
        message="sentence 1/4",
        eta=_seconds(2.5),
        logs=["loaded voice", "warmed up"],
        cost_so_far=media_pb.Cost(currency="USD", amount=0.01),
    )
    event = event_from_proto(Response(job_id=JOB, sequence=4, progress=progress))
    assert event == Progress(
        job_id=JOB,
        sequence=4,
        state=JobState.QUEUED,
        fraction=0.25,
        stage="synthesize",
        message="sentence 1/4",
        eta_s=2.5,
        queue_position=3,
        logs=("loaded voice", "warmed up"),
        cost_so_far=Cost(0.01, "USD"),
    )
    assert str(event) == "25% · queued #3 · synthesize · sentence 1/4 · about 2 s left"


def test_unset_progress_fields_are_none_not_zero() -> None:
    event = event_from_proto(Response(job_id=JOB, sequence=1, progress=job_pb.Progress(state=99)))  # type: ignore[arg-type]
    assert isinstance(event, Progress)
    assert (event.state, event.fraction, event.eta_s) == (None, None, None)
    assert str(event) == "working"
    started = event_from_proto(
        Response(
            job_id=JOB, sequence=1, progress=job_pb.Progress(state=job_pb.JOB_STATE_STARTING, fraction=0)
        )
    )
    assert isinstance(started, Progress) and started.fraction == 0.0 and started.state is JobState.STARTING


def test_output_header_and_chunk() -> None:
    asset = media_pb.Asset(
        kind=media_pb.MEDIA_KIND_AUDIO, mime_type="audio/wav", metadata={"sample_rate": "22050"}
    )
    header = event_from_proto(
        Response(job_id=JOB, sequence=5, output_header=media_pb.AssetHeader(index=1, asset=asset))
    )
    assert header == OutputHeader(JOB, 5, 1, MediaKind.AUDIO, "audio/wav", {"sample_rate": "22050"})
    assert str(header) == "output 1: audio/wav"
    chunk = event_from_proto(
        Response(job_id=JOB, sequence=6, output_chunk=media_pb.AssetChunk(index=1, data=b"RIFF"))
    )
    assert chunk == OutputChunk(JOB, 6, 1, b"RIFF")
    assert str(chunk) == "output 1: 4 bytes" and "RIFF" not in repr(chunk)


def test_a_header_without_a_kind_takes_it_from_its_mime_type_or_is_data_loss() -> None:
    asset = media_pb.Asset(mime_type="image/png")
    header = event_from_proto(Response(job_id=JOB, output_header=media_pb.AssetHeader(index=0, asset=asset)))
    assert isinstance(header, OutputHeader) and header.kind is MediaKind.IMAGE
    unknown = media_pb.Asset(mime_type="application/x-unknown")
    with pytest.raises(PrizmError) as failure:
        event_from_proto(Response(job_id=JOB, output_header=media_pb.AssetHeader(index=2, asset=unknown)))
    assert (failure.value.code, failure.value.reason) == (grpc.StatusCode.DATA_LOSS, "OUTPUT_CORRUPTED")
    assert "output 2 of job job-1" in failure.value.message


def test_completion_with_provenance_usage_and_cost() -> None:
    options = struct_pb2.Struct()
    options.update({"voice": "joe", "speed": 1.5})
    provenance = media_pb.Provenance(
        provider_id="piper",
        model_id="joe",
        options=options,
        input_sha256=["ab" * 32],
        cost=media_pb.Cost(currency="USD", amount=0.5),
        elapsed=_seconds(1.25),
        job_id=JOB,
    )
    completion = job_pb.Completion(
        outputs=[job_pb.OutputSummary(index=0, size_bytes=10, sha256="cd" * 32, provenance=provenance)],
        usage=[
            catalog_pb.UnitAmount(unit=catalog_pb.MEDIA_UNIT_OUTPUT_AUDIO_SECOND, quantity=2.0),
            catalog_pb.UnitAmount(unit=999, quantity=7.0),  # type: ignore[arg-type]  # from a newer server
        ],
        cost=media_pb.Cost(currency="USD", amount=0.5),
        elapsed=_seconds(1.25),
    )
    event = event_from_proto(Response(job_id=JOB, sequence=9, completion=completion))
    expected_provenance = Provenance(
        "piper", "joe", {"voice": "joe", "speed": 1.5}, ("ab" * 32,), Cost(0.5, "USD"), 1.25, JOB
    )
    assert event == Completion(
        job_id=JOB,
        sequence=9,
        outputs=(OutputSummary(0, 10, "cd" * 32, expected_provenance),),
        usage=(UnitAmount(MediaUnit.OUTPUT_AUDIO_SECOND, 2.0),),
        cost=Cost(0.5, "USD"),
        elapsed_s=1.25,
    )
    assert str(event) == "done: 1 output in 1.2 s, cost 0.5 USD"


def test_an_event_kind_this_client_does_not_know_is_skipped() -> None:
    assert event_from_proto(Response(job_id=JOB, sequence=3)) is None


def test_events_are_frozen() -> None:
    event = Progress(job_id=JOB, sequence=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.fraction = 0.5  # type: ignore[misc]
