"""Capability names and media kinds, derived from the `Capability` enum."""

from __future__ import annotations

import pytest
from prizm.v1 import media_pb2 as media_pb

from prizm_core.capabilities import all_capabilities, capability_by_name, capability_info

# Written out by hand on purpose: the table is derived from enum names, so this pins the result.
EXPECTED = {
    media_pb.CAPABILITY_TEXT_TO_TEXT: ("text-to-text", media_pb.MEDIA_KIND_TEXT, media_pb.MEDIA_KIND_TEXT),
    media_pb.CAPABILITY_TEXT_TO_IMAGE: ("text-to-image", media_pb.MEDIA_KIND_TEXT, media_pb.MEDIA_KIND_IMAGE),
    media_pb.CAPABILITY_IMAGE_TO_IMAGE: (
        "image-to-image",
        media_pb.MEDIA_KIND_IMAGE,
        media_pb.MEDIA_KIND_IMAGE,
    ),
    media_pb.CAPABILITY_IMAGE_TO_TEXT: ("image-to-text", media_pb.MEDIA_KIND_IMAGE, media_pb.MEDIA_KIND_TEXT),
    media_pb.CAPABILITY_TEXT_TO_VIDEO: ("text-to-video", media_pb.MEDIA_KIND_TEXT, media_pb.MEDIA_KIND_VIDEO),
    media_pb.CAPABILITY_IMAGE_TO_VIDEO: (
        "image-to-video",
        media_pb.MEDIA_KIND_IMAGE,
        media_pb.MEDIA_KIND_VIDEO,
    ),
    media_pb.CAPABILITY_VIDEO_TO_VIDEO: (
        "video-to-video",
        media_pb.MEDIA_KIND_VIDEO,
        media_pb.MEDIA_KIND_VIDEO,
    ),
    media_pb.CAPABILITY_VIDEO_TO_IMAGE: (
        "video-to-image",
        media_pb.MEDIA_KIND_VIDEO,
        media_pb.MEDIA_KIND_IMAGE,
    ),
    media_pb.CAPABILITY_VIDEO_TO_AUDIO: (
        "video-to-audio",
        media_pb.MEDIA_KIND_VIDEO,
        media_pb.MEDIA_KIND_AUDIO,
    ),
    media_pb.CAPABILITY_TEXT_TO_AUDIO: ("text-to-audio", media_pb.MEDIA_KIND_TEXT, media_pb.MEDIA_KIND_AUDIO),
    media_pb.CAPABILITY_AUDIO_TO_TEXT: ("audio-to-text", media_pb.MEDIA_KIND_AUDIO, media_pb.MEDIA_KIND_TEXT),
    media_pb.CAPABILITY_AUDIO_TO_AUDIO: (
        "audio-to-audio",
        media_pb.MEDIA_KIND_AUDIO,
        media_pb.MEDIA_KIND_AUDIO,
    ),
    media_pb.CAPABILITY_TEXT_TO_3D: ("text-to-3d", media_pb.MEDIA_KIND_TEXT, media_pb.MEDIA_KIND_MODEL_3D),
    media_pb.CAPABILITY_IMAGE_TO_3D: ("image-to-3d", media_pb.MEDIA_KIND_IMAGE, media_pb.MEDIA_KIND_MODEL_3D),
}


def test_every_capability_but_unspecified_is_in_the_table_in_enum_order() -> None:
    enum_values = [
        v.number for v in media_pb.Capability.DESCRIPTOR.values if v.number != media_pb.CAPABILITY_UNSPECIFIED
    ]
    assert [info.value for info in all_capabilities()] == enum_values
    assert set(enum_values) == set(EXPECTED), "a new capability needs a row in EXPECTED"


@pytest.mark.parametrize("value", sorted(EXPECTED))
def test_capability_name_and_kinds(value: media_pb.Capability.ValueType) -> None:
    name, input_kind, output_kind = EXPECTED[value]
    info = capability_info(value)
    assert (info.value, info.name, info.input_kind, info.output_kind) == (
        value,
        name,
        input_kind,
        output_kind,
    )
    assert capability_by_name(name) == info


@pytest.mark.parametrize(
    "spelling",
    [
        "text-to-audio",
        "TEXT_TO_AUDIO",
        "capability_text_to_audio",
        "CAPABILITY_TEXT_TO_AUDIO",
        " Text-To-Audio ",
    ],
)
def test_capability_by_name_accepts_cli_enum_and_prefixed_spellings(spelling: str) -> None:
    assert capability_by_name(spelling).value == media_pb.CAPABILITY_TEXT_TO_AUDIO


@pytest.mark.parametrize("name", ["text-to-smell", "", "unspecified", "capability_unspecified", "text"])
def test_capability_by_name_rejects_unknown_names(name: str) -> None:
    with pytest.raises(KeyError):
        capability_by_name(name)


@pytest.mark.parametrize("value", [media_pb.CAPABILITY_UNSPECIFIED, 999])
def test_capability_info_rejects_unspecified_and_unknown_values(value: int) -> None:
    with pytest.raises(KeyError):
        capability_info(value)
