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
    return [step.capability.name for step in plan_conversion(mesh, source, target)]  # type: ignore[arg-type]


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


WAV_ONLY = ("audio/wav", "audio/x-wav")


def _model(
    capability: int, provider: str, model: str, takes: tuple[str, ...] = (), makes: str = ""
) -> catalog_pb.Model:
    return catalog_pb.Model(
        id=model,
        provider_id=provider,
        capabilities=[capability],  # type: ignore[list-item]
        input_mime_types=takes,
        output_mime_type=makes,
    )


RECOGNISER = _model(media_pb.CAPABILITY_AUDIO_TO_TEXT, "pocketsphinx", "en-us", WAV_ONLY, "text/plain")
TO_WAV = _model(
    media_pb.CAPABILITY_AUDIO_TO_AUDIO, "ffmpeg", "convert-audio", ("audio/mpeg", "audio/ogg"), "audio/wav"
)


def _steps(
    mesh: list[catalog_pb.Model], source: int, mime: str, target: int = TEXT
) -> list[tuple[str, str, str]]:
    planned = plan_conversion(mesh, source, target, mime)  # type: ignore[arg-type]
    return [(step.capability.name, step.provider_id, step.model_id) for step in planned]


def test_a_type_the_model_does_not_take_gets_a_conversion_step_first() -> None:
    mesh = [RECOGNISER, TO_WAV]
    assert _steps(mesh, AUDIO, "audio/mpeg") == [
        ("audio-to-audio", "ffmpeg", "convert-audio"),
        ("audio-to-text", "pocketsphinx", "en-us"),
    ]
    # A type it takes goes straight there; MIME parameters and case do not matter.
    assert _steps(mesh, AUDIO, "Audio/WAV; rate=16000") == [("audio-to-text", "pocketsphinx", "en-us")]


def test_the_model_that_takes_the_type_is_chosen_among_those_of_the_capability() -> None:
    decoding = _model(
        media_pb.CAPABILITY_AUDIO_TO_TEXT, "whisper", "base", ("audio/mpeg", "audio/wav"), "text/plain"
    )
    assert _steps([RECOGNISER, TO_WAV, decoding], AUDIO, "audio/mpeg") == [
        ("audio-to-text", "whisper", "base")
    ]
    # A model that names no types takes any of its kind, as does a source of unknown type.
    anything = _model(media_pb.CAPABILITY_AUDIO_TO_TEXT, "remote", "any")
    assert _steps([RECOGNISER, anything], AUDIO, "audio/flac") == [("audio-to-text", "remote", "any")]
    assert _steps([RECOGNISER], AUDIO, "") == [("audio-to-text", "pocketsphinx", "en-us")]


def test_a_video_goes_through_its_soundtrack_in_a_type_the_recogniser_takes() -> None:
    extract = _model(
        media_pb.CAPABILITY_VIDEO_TO_AUDIO, "ffmpeg", "extract-audio", ("video/webm",), "audio/wav"
    )
    assert _steps([RECOGNISER, TO_WAV, extract], VIDEO, "video/webm") == [
        ("video-to-audio", "ffmpeg", "extract-audio"),
        ("audio-to-text", "pocketsphinx", "en-us"),
    ]


def test_no_model_for_the_type_and_no_conversion_is_a_refusal_naming_the_type() -> None:
    with pytest.raises(PrizmError) as failure:
        plan_conversion([RECOGNISER], AUDIO, TEXT, "audio/mpeg")
    assert (failure.value.code, failure.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_CONVERSION_PATH",
    )
    assert failure.value.metadata == {"from": "audio", "to": "text", "mime_type": "audio/mpeg"}
    assert "audio (audio/mpeg) into text" in failure.value.message
    # A converter that cannot read the type does not help either.
    flac_only = _model(
        media_pb.CAPABILITY_AUDIO_TO_AUDIO, "ffmpeg", "convert-audio", ("audio/flac",), "audio/wav"
    )
    with pytest.raises(PrizmError):
        plan_conversion([RECOGNISER, flac_only], AUDIO, TEXT, "audio/mpeg")
