"""What a caller may pass as input: text, a str or Path file, bytes, assets; files that cannot be read."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from prizm.v1 import media_pb2 as media_pb

from prizm_core.client.inputs import FileInput, file_size, resolve_inputs
from prizm_core.errors import PrizmError

TEXT_TO_AUDIO = media_pb.CAPABILITY_TEXT_TO_AUDIO
AUDIO_TO_TEXT = media_pb.CAPABILITY_AUDIO_TO_TEXT


def _refusal(error: pytest.ExceptionInfo[PrizmError]) -> tuple[grpc.StatusCode, str, list[tuple[str, str]]]:
    return error.value.code, error.value.reason, list(error.value.field_violations)


def test_a_str_is_text_for_a_text_capability() -> None:
    (asset,) = resolve_inputs(TEXT_TO_AUDIO, "story.txt")
    assert isinstance(asset, media_pb.Asset)
    assert (asset.kind, asset.data) == (media_pb.MEDIA_KIND_TEXT, b"story.txt")


def test_a_str_is_a_file_for_other_input_kinds_typed_as_the_capability_takes() -> None:
    (item,) = resolve_inputs(AUDIO_TO_TEXT, "recordings/talk.webm")
    assert item == FileInput(Path("recordings/talk.webm"), "audio/webm", "inputs[0]")


def test_a_path_is_always_a_file() -> None:
    (item,) = resolve_inputs(TEXT_TO_AUDIO, Path("story.txt"))
    assert item == FileInput(Path("story.txt"), "text/plain", "inputs[0]")


def test_bytes_are_utf8_text_for_text_capabilities_only() -> None:
    (asset,) = resolve_inputs(TEXT_TO_AUDIO, "héllo".encode())
    assert isinstance(asset, media_pb.Asset) and asset.data == "héllo".encode()
    with pytest.raises(PrizmError) as untyped:
        resolve_inputs(AUDIO_TO_TEXT, b"RIFF....")
    code, reason, [(field, problem)] = _refusal(untyped)
    assert (code, reason, field) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT", "inputs[0]")
    assert "file path or an Asset" in problem
    with pytest.raises(PrizmError) as latin:
        resolve_inputs(TEXT_TO_AUDIO, "héllo".encode("latin-1"))
    assert _refusal(latin)[2] == [("inputs[0]", "text must be UTF-8")]


def test_a_list_mixes_assets_and_files_each_named_by_its_place() -> None:
    asset = media_pb.Asset(kind=media_pb.MEDIA_KIND_AUDIO, mime_type="audio/wav", data=b"RIFF")
    items = resolve_inputs(AUDIO_TO_TEXT, [asset, "b.mp3", Path("c.flac")])
    assert items == [
        asset,
        FileInput(Path("b.mp3"), "audio/mpeg", "inputs[1]"),
        FileInput(Path("c.flac"), "audio/flac", "inputs[2]"),
    ]
    with pytest.raises(PrizmError) as empty:
        resolve_inputs(AUDIO_TO_TEXT, [])
    assert _refusal(empty)[2] == [("inputs", "at least one input is required")]


def test_file_size_refuses_what_is_not_a_readable_file(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"12345")
    assert file_size(tmp_path / "a.wav") == 5
    for path, why in ((tmp_path / "absent.wav", "No such file"), (tmp_path, "not a file")):
        with pytest.raises(PrizmError) as refused:
            file_size(path, "inputs[3]")
        code, reason, [(field, problem)] = _refusal(refused)
        assert (code, reason, field) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT", "inputs[3]")
        assert str(path) in problem and why in problem


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_file_size_refuses_an_unreadable_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"x")
    secret.chmod(0)
    with pytest.raises(PrizmError) as refused:
        file_size(secret)
    assert "not readable" in _refusal(refused)[2][0][1]
