"""Measures vendors price by, and inputs sent to vendors as data URLs, multipart files or bodies."""

from __future__ import annotations

import base64
from pathlib import Path

import grpc
import numpy as np
import pytest

from prizm_core.errors import PrizmError
from provider_servers.remote import (
    DATA_URL_MAX_BYTES,
    asset_body,
    data_url,
    file_name,
    image_units,
    input_audio_seconds,
    input_characters,
    megapixels,
    multipart_file,
)
from provider_servers.sdk import Capability, InputAsset, Job, MediaKind, MediaUnit, ModelSpec
from provider_servers.sdk.audio import encode_wav

MODEL = ModelSpec("m", "M", "A model.", (Capability.TEXT_TO_AUDIO,))


def test_megapixels() -> None:
    assert megapixels(1024, 1024) == pytest.approx(1.048576)
    assert megapixels(1920, 1080) == pytest.approx(2.0736)


def test_image_units_follow_width_and_height_or_the_default_size() -> None:
    assert image_units({"width": 2000, "height": 500}, 1024, 1024, count=2) == {
        MediaUnit.OUTPUT_IMAGE: 2.0,
        MediaUnit.OUTPUT_MEGAPIXEL: 2.0,
    }
    assert image_units({}, 1000, 1000) == {MediaUnit.OUTPUT_IMAGE: 1.0, MediaUnit.OUTPUT_MEGAPIXEL: 1.0}


def test_input_characters_count_text_inputs_as_characters_not_bytes() -> None:
    text = InputAsset.inline(MediaKind.TEXT, "text/plain", "héllo wörld".encode())
    job = Job(id="j", capability=Capability.TEXT_TO_AUDIO, model=MODEL, inputs=(text,), options={})
    assert input_characters(job) == 11.0


@pytest.mark.parametrize(
    ("mime", "name"),
    [
        ("audio/mpeg", "input.mp3"),
        ("image/png", "input.png"),
        ("audio/wav", "input.wav"),
        ("x/unknown", "input"),
    ],
)
def test_file_names_carry_the_extension_of_the_mime_type(mime: str, name: str) -> None:
    assert file_name(InputAsset.inline(MediaKind.AUDIO, mime, b"x")) == name


def test_a_data_url_holds_the_bytes_and_refuses_large_inputs() -> None:
    small = InputAsset.inline(MediaKind.IMAGE, "image/png; charset=binary", b"\x89PNG")
    assert data_url(small) == "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    large = InputAsset.inline(MediaKind.IMAGE, "image/png", b"\0" * (DATA_URL_MAX_BYTES + 1))
    with pytest.raises(ValueError, match="too large for a data URL"):
        data_url(large)


def test_a_multipart_file_streams_an_input_sent_by_reference_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "big.wav"
    path.write_bytes(b"RIFF" + b"\0" * 100)
    by_reference = InputAsset(MediaKind.AUDIO, "audio/wav", "0" * 64, 104, path=path)
    name, content, mime = multipart_file(by_reference)
    assert (name, mime) == ("input.wav", "audio/wav")
    assert not isinstance(content, bytes)
    assert content.read() == path.read_bytes()
    content.close()
    assert multipart_file(InputAsset.inline(MediaKind.AUDIO, "audio/wav", b"RIFF"))[1] == b"RIFF"


async def test_an_asset_body_is_read_in_pieces_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "video.mp4"
    data = bytes(range(256)) * 12_000  # about 3 MB: more than one piece
    path.write_bytes(data)
    asset = InputAsset(MediaKind.VIDEO, "video/mp4", "0" * 64, len(data), path=path)
    pieces = [piece async for piece in asset_body(asset)]
    assert len(pieces) > 1 and b"".join(pieces) == data


def _audio_job(asset: InputAsset, workdir: Path) -> Job:
    stt = ModelSpec("w", "W", "A transcriber.", (Capability.AUDIO_TO_TEXT,))
    return Job(
        id="j", capability=Capability.AUDIO_TO_TEXT, model=stt, inputs=(asset,), options={}, workdir=workdir
    )


def test_input_audio_seconds_of_a_wav_is_its_length(tmp_path: Path) -> None:
    wav = encode_wav(np.zeros(16_000 * 3 // 2, dtype=np.int16), 16_000)
    asset = InputAsset.inline(MediaKind.AUDIO, "audio/wav", wav)
    assert input_audio_seconds(_audio_job(asset, tmp_path)) == pytest.approx(1.5)


def test_input_audio_seconds_refuses_what_is_not_audio(tmp_path: Path) -> None:
    asset = InputAsset.inline(MediaKind.AUDIO, "audio/mpeg", b"not an mp3 at all" * 10)
    with pytest.raises(PrizmError) as refused:
        input_audio_seconds(_audio_job(asset, tmp_path))
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in refused.value.field_violations] == ["inputs[0].data"]
