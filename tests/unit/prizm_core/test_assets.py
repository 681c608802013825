"""Input assets from text and files, and file extensions for outputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import grpc
import pytest
from prizm.v1 import media_pb2 as media_pb

from prizm_core.assets import (
    MIME_TYPES_BY_EXTENSION,
    describe_file,
    extension_for,
    file_asset,
    guess_mime_type,
    kind_of_mime,
    text_asset,
)
from prizm_core.channels import INLINE_LIMIT_BYTES
from prizm_core.errors import PrizmError


def test_text_asset_is_utf8_with_hash_and_size() -> None:
    asset = text_asset("héllo wörld")
    data = "héllo wörld".encode()
    assert asset.data == data
    assert asset.size_bytes == len(data) == 13
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    assert asset.kind == media_pb.MEDIA_KIND_TEXT
    assert asset.mime_type == "text/plain; charset=utf-8"


def test_empty_text_asset() -> None:
    asset = text_asset("")
    assert (asset.size_bytes, asset.sha256) == (0, hashlib.sha256(b"").hexdigest())


@pytest.mark.parametrize(
    ("name", "mime", "kind"),
    [
        ("clip.wav", "audio/wav", media_pb.MEDIA_KIND_AUDIO),
        ("CLIP.WAV", "audio/wav", media_pb.MEDIA_KIND_AUDIO),
        ("photo.png", "image/png", media_pb.MEDIA_KIND_IMAGE),
        ("notes.txt", "text/plain", media_pb.MEDIA_KIND_TEXT),
        ("mesh.glb", "model/gltf-binary", media_pb.MEDIA_KIND_MODEL_3D),
        ("movie.mp4", "video/mp4", media_pb.MEDIA_KIND_VIDEO),
    ],
)
def test_file_asset_guesses_the_type_from_the_name(tmp_path: Path, name: str, mime: str, kind: int) -> None:
    path = tmp_path / name
    content = b"RIFF\x00\x01\x02" + name.encode()
    path.write_bytes(content)
    asset = file_asset(path)
    assert (asset.mime_type, asset.kind) == (mime, kind)
    assert asset.data == content
    assert asset.size_bytes == len(content)
    assert asset.sha256 == hashlib.sha256(content).hexdigest()


def test_file_asset_takes_a_given_type_over_the_name(tmp_path: Path) -> None:
    path = tmp_path / "recording.data"
    path.write_bytes(b"\x00\x01")
    asset = file_asset(path, mime_type="audio/x-wav")
    assert (asset.mime_type, asset.kind) == ("audio/x-wav", media_pb.MEDIA_KIND_AUDIO)


@pytest.mark.parametrize("name", ["blob.xyzzy", "no_extension", "archive.zip"])
def test_file_asset_rejects_unknown_types(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"data")
    with pytest.raises(PrizmError) as caught:
        file_asset(path)
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT")
    assert caught.value.field_violations == (
        ("input", f"cannot tell the media type of {name}; name its type"),
    )


def test_file_asset_at_the_limit_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "big.wav"
    with path.open("wb") as handle:
        handle.truncate(INLINE_LIMIT_BYTES)
    asset = file_asset(path)
    assert asset.size_bytes == INLINE_LIMIT_BYTES
    assert asset.sha256 == hashlib.sha256(bytes(INLINE_LIMIT_BYTES)).hexdigest()


def test_file_asset_over_the_limit_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "huge.wav"
    with path.open("wb") as handle:
        handle.truncate(INLINE_LIMIT_BYTES + 1)
    with pytest.raises(PrizmError) as caught:
        file_asset(path)
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INPUT_TOO_LARGE")
    [(field, problem)] = caught.value.field_violations
    assert field == "input"
    assert f"huge.wav is {INLINE_LIMIT_BYTES + 1} bytes" in problem
    assert str(INLINE_LIMIT_BYTES) in problem


@pytest.mark.parametrize(
    ("mime", "extension"),
    [
        ("audio/wav", ".wav"),
        ("audio/x-wav", ".wav"),
        ("AUDIO/WAV", ".wav"),
        ("text/plain; charset=utf-8", ".txt"),
        ("model/gltf-binary", ".glb"),
        ("image/png", ".png"),
        ("application/x-prizm-unknown", ".bin"),
        ("", ".bin"),
    ],
)
def test_extension_for(mime: str, extension: str) -> None:
    assert extension_for(mime) == extension


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("audio/wav", media_pb.MEDIA_KIND_AUDIO),
        (" Image/PNG", media_pb.MEDIA_KIND_IMAGE),
        ("model/gltf+json", media_pb.MEDIA_KIND_MODEL_3D),
        ("application/json", media_pb.MEDIA_KIND_UNSPECIFIED),
        ("", media_pb.MEDIA_KIND_UNSPECIFIED),
    ],
)
def test_kind_of_mime(mime: str, kind: int) -> None:
    assert kind_of_mime(mime) == kind


@pytest.mark.parametrize(
    ("name", "kind", "mime"),
    [
        ("talk.mp3", media_pb.MEDIA_KIND_UNSPECIFIED, "audio/mpeg"),
        ("talk.ogg", media_pb.MEDIA_KIND_UNSPECIFIED, "audio/ogg"),
        ("talk.opus", media_pb.MEDIA_KIND_AUDIO, "audio/ogg"),
        ("talk.FLAC", media_pb.MEDIA_KIND_UNSPECIFIED, "audio/flac"),
        ("talk.m4a", media_pb.MEDIA_KIND_UNSPECIFIED, "audio/mp4"),
        ("talk.weba", media_pb.MEDIA_KIND_UNSPECIFIED, "audio/webm"),
        # A container that holds audio or video: the kind the job takes, else the usual one.
        ("talk.webm", media_pb.MEDIA_KIND_AUDIO, "audio/webm"),
        ("talk.webm", media_pb.MEDIA_KIND_UNSPECIFIED, "video/webm"),
        ("talk.webm", media_pb.MEDIA_KIND_TEXT, "video/webm"),
        ("talk.mp4", media_pb.MEDIA_KIND_AUDIO, "audio/mp4"),
        ("clip.ogg", media_pb.MEDIA_KIND_VIDEO, "video/ogg"),
        ("clip.mkv", media_pb.MEDIA_KIND_UNSPECIFIED, "video/x-matroska"),
        ("clip.mov", media_pb.MEDIA_KIND_UNSPECIFIED, "video/quicktime"),
        ("photo.JPG", media_pb.MEDIA_KIND_UNSPECIFIED, "image/jpeg"),
        ("photo.webp", media_pb.MEDIA_KIND_UNSPECIFIED, "image/webp"),
        ("/some/dir.d/scan.tif", media_pb.MEDIA_KIND_UNSPECIFIED, "image/tiff"),
        ("archive.tar.gz", media_pb.MEDIA_KIND_UNSPECIFIED, ""),
        ("README", media_pb.MEDIA_KIND_UNSPECIFIED, ""),
    ],
)
def test_guess_mime_type_from_the_fixed_table(name: str, kind: int, mime: str) -> None:
    assert guess_mime_type(name, kind) == mime


@pytest.mark.parametrize(
    ("mime", "extension"),
    [
        ("audio/mpeg", ".mp3"),
        ("audio/mp3", ".mp3"),
        ("audio/ogg", ".ogg"),
        ("audio/flac", ".flac"),
        ("audio/mp4", ".m4a"),
        ("audio/webm", ".weba"),
        ("video/webm", ".webm"),
        ("video/mp4", ".mp4"),
        ("video/ogg", ".ogv"),
        ("image/jpeg", ".jpg"),
        ("video/x-matroska", ".mkv"),
    ],
)
def test_outputs_of_the_formats_people_have_get_their_usual_extension(mime: str, extension: str) -> None:
    assert extension_for(mime) == extension


def test_every_type_of_the_table_names_its_kind_and_comes_back_to_an_extension_of_its_own() -> None:
    for extension, mime_types in MIME_TYPES_BY_EXTENSION.items():
        for mime in mime_types:
            assert kind_of_mime(mime) != media_pb.MEDIA_KIND_UNSPECIFIED, (extension, mime)
            assert mime in MIME_TYPES_BY_EXTENSION[extension_for(mime)], (extension, mime)


def test_describe_file_takes_an_mp3_as_audio(tmp_path: Path) -> None:
    song = tmp_path / "song.mp3"
    song.write_bytes(b"ID3" + bytes(100))
    asset = describe_file(song)
    assert (asset.kind, asset.mime_type, asset.size_bytes) == (media_pb.MEDIA_KIND_AUDIO, "audio/mpeg", 103)
