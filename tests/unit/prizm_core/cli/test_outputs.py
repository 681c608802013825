"""`-o FILE`: the path checked before any work, the `format` its extension asks of the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import struct_pb2
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1.catalog_pb2 import Model

from prizm_core.cli.explain import UsageError
from prizm_core.cli.outputs import check_default_format, check_output_path, format_for_output


def _model(model_id: str, output_mime: str, formats: list[str] | None = None, default: str = "") -> Model:
    parameters = []
    if formats is not None:
        parameter = catalog_pb.Parameter(name="format", type=catalog_pb.PARAMETER_TYPE_STRING)
        parameter.choices.extend(formats)
        if default:
            parameter.default_value.CopyFrom(struct_pb2.Value(string_value=default))
        parameters.append(parameter)
    return catalog_pb.Model(id=model_id, output_mime_type=output_mime, parameters=parameters)


TTS = [_model("neural", "audio/wav", ["wav", "mp3", "ogg", "flac"], "wav"), _model("formant", "audio/wav")]
IMAGES = [_model("card", "image/png", ["png", "jpeg", "webp"], "png")]


def test_the_extension_asks_for_that_format() -> None:
    assert format_for_output("speech.mp3", {}, TTS) == "mp3"
    assert format_for_output("speech.FLAC", {}, TTS) == "flac"


def test_an_extension_spelled_otherwise_takes_the_models_spelling() -> None:
    assert format_for_output("card.jpg", {}, IMAGES) == "jpeg"


def test_a_model_without_a_format_option_writes_its_own_format_and_nothing_is_asked() -> None:
    assert format_for_output("speech.wav", {}, [_model("formant", "audio/wav")]) is None
    assert format_for_output("words.txt", {}, [_model("asr", "text/plain")]) is None


def test_nothing_is_asked_without_an_extension_stdout_or_a_known_candidate() -> None:
    assert format_for_output(None, {}, TTS) is None
    assert format_for_output("-", {}, TTS) is None
    assert format_for_output("speech", {}, TTS) is None
    assert format_for_output("speech.mp3", {}, []) is None


def test_an_extension_no_candidate_writes_is_refused_naming_those_that_would_work() -> None:
    with pytest.raises(UsageError) as refusal:
        format_for_output("speech.aiff", {}, TTS)
    assert str(refusal.value) == (
        "-o speech.aiff: no model here writes .aiff files; use one of .flac, .mp3, .ogg, .wav"
    )


def test_an_explicit_format_that_disagrees_with_the_extension_is_refused() -> None:
    with pytest.raises(UsageError, match=r"format=ogg disagrees with -o speech\.mp3"):
        format_for_output("speech.mp3", {"format": "ogg"}, TTS)
    assert format_for_output("speech.mp3", {"format": "mp3"}, TTS) == "mp3"


def test_a_conversion_takes_the_format_its_last_model_writes_by_default() -> None:
    check_default_format("speech.wav", TTS)
    with pytest.raises(UsageError, match=r"converts to \.mp3 files; use one of \.wav"):
        check_default_format("speech.mp3", TTS)


def test_output_paths_that_cannot_be_written_are_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    check_output_path(str(tmp_path / "out.wav"))
    check_output_path("-")
    check_output_path(None)
    with pytest.raises(UsageError, match="is a folder"):
        check_output_path(str(tmp_path))
    with pytest.raises(UsageError, match="no folder"):
        check_output_path(str(tmp_path / "missing" / "out.wav"))
    with pytest.raises(UsageError, match="file, not a folder"):
        check_output_path(str(tmp_path / "file" / "deeper" / "out.wav"))
