"""PocketSphinx's input formats: what its model advertises, with and without ffmpeg, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from prizm_core.errors import PrizmError, Reason
from provider_servers.pocketsphinx.provider import PocketsphinxProvider
from provider_servers.sdk import Capability, InputAsset, Job, MediaKind, MediaUnit
from provider_servers.sdk.audio import COMPRESSED_AUDIO_MIME_TYPES, WAV_MIME_TYPES
from tests.support.ffmedia import make_file
from tests.support.media import speech_wav

FORMATS = ("audio/mpeg", "audio/ogg", "audio/flac", "audio/mp4", "audio/webm")


def _job(provider: PocketsphinxProvider, mime_type: str, data: bytes, workdir: Path) -> Job:
    (model,) = provider.models()
    asset = InputAsset.inline(MediaKind.AUDIO, mime_type, data)
    options = {"language": "en-US"}
    return Job("job", Capability.AUDIO_TO_TEXT, model, (asset,), options, workdir=workdir)


def _refusal(provider: PocketsphinxProvider, job: Job) -> PrizmError:
    with pytest.raises(PrizmError) as caught:
        provider.check_inputs(job)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.reason == Reason.UNSUPPORTED_MEDIA
    return caught.value


def test_with_ffmpeg_the_model_takes_wav_mp3_ogg_flac_m4a_and_webm() -> None:
    (model,) = PocketsphinxProvider().models()
    assert model.input_mime_types == WAV_MIME_TYPES + COMPRESSED_AUDIO_MIME_TYPES
    assert set(FORMATS) <= set(model.input_mime_types)
    assert "mp3, Ogg, FLAC, m4a or WebM" in model.description
    (language,) = model.parameters
    assert (language.name, language.default, language.choices) == ("language", "en-US", ("en-US",))


def test_an_mp3_is_checked_and_measured_by_ffprobe_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "speech.wav").write_bytes(speech_wav())
    make_file(tmp_path / "speech.mp3", "-i", str(tmp_path / "speech.wav"), "-c:a", "libmp3lame")
    mp3 = (tmp_path / "speech.mp3").read_bytes()
    provider = PocketsphinxProvider()
    job = _job(provider, "audio/mpeg", mp3, tmp_path)
    provider.check_inputs(job)
    seconds = provider.measure(job)[MediaUnit.INPUT_AUDIO_SECOND]
    wav_seconds = len(speech_wav()) / 2 / 22_050  # 16-bit mono at Piper's rate, less a 44-byte header
    assert seconds == pytest.approx(wav_seconds, abs=0.1)


def test_a_format_it_does_not_decode_is_refused_by_its_mime_type(tmp_path: Path) -> None:
    provider = PocketsphinxProvider()
    refusal = _refusal(provider, _job(provider, "audio/x-aiff", b"FORM....AIFF", tmp_path))
    ((field, problem),) = refusal.field_violations
    assert field == "inputs[0].mime_type"
    assert problem.startswith("audio/x-aiff is not an audio format this model decodes; it takes audio/wav")


def test_data_that_is_not_what_its_mime_type_says_is_refused_naming_it(tmp_path: Path) -> None:
    provider = PocketsphinxProvider()
    refusal = _refusal(provider, _job(provider, "audio/mpeg", b"not an mp3 at all" * 50, tmp_path))
    ((field, problem),) = refusal.field_violations
    assert field == "inputs[0].data" and problem.startswith("cannot decode it as audio/mpeg: ")
    refusal = _refusal(provider, _job(provider, "audio/wav", b"RIFF but not really", tmp_path))
    assert refusal.field_violations[0][1].startswith("cannot decode it as audio/wav: not a PCM WAV file")


def test_without_ffmpeg_only_wav_is_advertised_and_an_mp3_is_refused_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    provider = PocketsphinxProvider()
    (model,) = provider.models()
    assert model.input_mime_types == WAV_MIME_TYPES
    refusal = _refusal(provider, _job(provider, "audio/mpeg", b"ID3", tmp_path))
    ((field, problem),) = refusal.field_violations
    assert field == "inputs[0].mime_type"
    assert problem == (
        "audio/mpeg is decoded with ffmpeg, which is not installed where this provider runs; send audio/wav"
    )
