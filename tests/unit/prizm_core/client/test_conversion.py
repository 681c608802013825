"""Planning a conversion through the capability graph of a mesh."""

from __future__ import annotations

import grpc
import pytest
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core.client.conversion import kind_by_name, plan_conversion
from prizm_core.errors import PrizmError

TEXT, IMAGE, AUDIO, VIDEO = (
    media_pb.MEDIA_KIND_TEXT,
    media_pb.MEDIA_KIND_IMAGE,
    media_pb.MEDIA_KIND_AUDIO,
    media_pb.MEDIA_KIND_VIDEO,
)


def _mesh(*capabilities: int) -> list[catalog_pb.Model]:
    return [catalog_pb.Model(id=f"m{c}", capabilities=[c]) for c in capabilities]  # type: ignore[list-item]


MESH = _mesh(
    media_pb.CAPABILITY_TEXT_TO_AUDIO,
    media_pb.CAPABILITY_AUDIO_TO_TEXT,
    media_pb.CAPABILITY_VIDEO_TO_AUDIO,
    media_pb.CAPABILITY_VIDEO_TO_IMAGE,
    media_pb.CAPABILITY_IMAGE_TO_TEXT,
    media_pb.CAPABILITY_TEXT_TO_VIDEO,
)


def _names(source: int, target: int, mesh: list[catalog_pb.Model] = MESH) -> list[str]:
    return [hop.name for hop in plan_conversion(mesh, source, target)]  # type: ignore[arg-type]


def test_one_job_when_one_capability_does_it() -> None:
    assert _names(AUDIO, TEXT) == ["audio-to-text"]
    assert _names(TEXT, VIDEO) == ["text-to-video"]


def test_two_jobs_through_the_kind_between() -> None:
    # Both video -> audio -> text and video -> image -> text exist: what is said comes first.
    assert _names(VIDEO, TEXT) == ["video-to-audio", "audio-to-text"]
    without_audio = _mesh(media_pb.CAPABILITY_VIDEO_TO_IMAGE, media_pb.CAPABILITY_IMAGE_TO_TEXT)
    assert _names(VIDEO, TEXT, without_audio) == ["video-to-image", "image-to-text"]


def test_the_same_kind_needs_nothing() -> None:
    assert _names(AUDIO, AUDIO) == []


def test_three_jobs_are_too_many_and_missing_edges_say_so() -> None:
    chain = _mesh(
        media_pb.CAPABILITY_IMAGE_TO_VIDEO,
        media_pb.CAPABILITY_VIDEO_TO_AUDIO,
        media_pb.CAPABILITY_AUDIO_TO_TEXT,
    )
    with pytest.raises(PrizmError) as failure:
        _names(IMAGE, TEXT, chain)
    assert (failure.value.code, failure.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_CONVERSION_PATH",
    )
    assert failure.value.metadata == {"from": "image", "to": "text"}
    with pytest.raises(PrizmError):
        _names(TEXT, media_pb.MEDIA_KIND_MODEL_3D)


def test_kinds_by_name() -> None:
    assert kind_by_name(" Video ") == VIDEO
    assert kind_by_name("3d") == media_pb.MEDIA_KIND_MODEL_3D
    with pytest.raises(PrizmError) as failure:
        kind_by_name("smell")
    assert failure.value.reason == "UNKNOWN_MEDIA_KIND"
