"""Audio formats people have, and one meaning of the standard options, behind a real router.

pocketsphinx recognises speech sent as mp3, Ogg, FLAC, m4a and WebM (decoded through ffmpeg);
piper and espeak write the `format` asked for; `speed` is a multiplier on both speakers.
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from prizm.v1 import media_pb2 as media_pb

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError, Reason
from tests.support.ffmedia import decode_audio, make_file
from tests.support.media import SENTENCE, speech_wav, wav_seconds_and_rms
from tests.support.mesh import client_of, recognised_words
from tests.support.processes import ServerProcess, router_for

SPEAKERS = {"piper": "en_US-joe-medium", "espeak": "espeak-ng"}
# MIME type, then ffmpeg's encoder and muxer for it.
ENCODINGS = {
    "mp3": ("audio/mpeg", ("-c:a", "libmp3lame", "-q:a", "4", "-f", "mp3")),
    "ogg": ("audio/ogg", ("-c:a", "libvorbis", "-f", "ogg")),
    "flac": ("audio/flac", ("-c:a", "flac", "-f", "flac")),
    "m4a": ("audio/mp4", ("-c:a", "aac", "-b:a", "96k", "-f", "ipod")),
    "webm": ("audio/webm", ("-c:a", "libopus", "-b:a", "48k", "-f", "webm")),
}


@pytest.fixture(scope="module")
def speech_mesh(
    tmp_path_factory: pytest.TempPathFactory,
    piper: ServerProcess,
    pocketsphinx: ServerProcess,
    espeak: ServerProcess,
) -> Iterator[ServerProcess]:
    """A router with both speakers and the recognizer as static endpoints."""
    with router_for(tmp_path_factory.mktemp("formats"), piper, pocketsphinx, espeak) as router:
        yield router


@pytest.fixture
async def client(speech_mesh: ServerProcess) -> AsyncIterator[PrizmClient]:
    """A client of the router, once all three providers are routable."""
    async with client_of(speech_mesh.address, 3) as connected:
        yield connected


def _encoded(wav: bytes, extension: str, folder: Path) -> bytes:
    """`wav` encoded by the ffmpeg program (not by Prizm) into the format of `extension`."""
    source, target = folder / "speech.wav", folder / f"speech.{extension}"
    source.write_bytes(wav)
    _, arguments = ENCODINGS[extension]
    make_file(target, "-i", str(source), *arguments)
    return target.read_bytes()


def _audio(data: bytes, mime_type: str) -> media_pb.Asset:
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_AUDIO, mime_type=mime_type, data=data)


@pytest.mark.parametrize("extension", list(ENCODINGS))
async def test_speech_in_each_format_is_recognised(
    client: PrizmClient, tmp_path: Path, extension: str
) -> None:
    mime_type, _ = ENCODINGS[extension]
    data = _encoded(speech_wav(), extension, tmp_path)
    result = await client.run("audio-to-text", _audio(data, mime_type), timeout=60)
    (transcript,) = result.outputs
    assert transcript.provenance.provider_id == "pocketsphinx"
    assert recognised_words(SENTENCE, transcript.text()) >= 6, (extension, transcript.text())
    assert float(transcript.metadata["audio_duration_s"]) == pytest.approx(
        wav_seconds_and_rms(speech_wav())[0], abs=0.15
    )


async def test_a_format_pocketsphinx_cannot_decode_is_refused_by_name(client: PrizmClient) -> None:
    with pytest.raises(PrizmError) as caught:
        await client.run("audio-to-text", _audio(b"FORM\x00\x00\x00\x04AIFF", "audio/x-aiff"), timeout=30)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "audio/x-aiff" in str(caught.value)


@pytest.mark.parametrize(("audio_format", "mime_type"), [("mp3", "audio/mpeg"), ("ogg", "audio/ogg")])
async def test_speech_written_as_a_compressed_format_is_heard_back(
    client: PrizmClient, audio_format: str, mime_type: str
) -> None:
    # Piper's voice, as PocketSphinx cannot make out espeak-ng's formant speech in any format.
    spoken = await client.run(
        "text-to-audio", SENTENCE, model=SPEAKERS["piper"], options={"format": audio_format}, timeout=60
    )
    (audio,) = spoken.outputs
    assert audio.mime_type == mime_type and audio.provenance.provider_id == "piper"
    assert audio.data is not None
    heard = await client.run("audio-to-text", _audio(audio.data, mime_type), timeout=60)
    assert recognised_words(SENTENCE, heard.outputs[0].text()) >= 5, heard.outputs[0].text()


async def test_flac_from_espeak_holds_the_very_samples_of_its_wav(client: PrizmClient) -> None:
    wav, flac = [
        (
            await client.run("text-to-audio", SENTENCE, model="espeak-ng", options={"format": f}, timeout=30)
        ).outputs[0]
        for f in ("wav", "flac")
    ]
    assert flac.mime_type == "audio/flac" and flac.data is not None and flac.data[:4] == b"fLaC"
    assert wav.data is not None
    with wave.open(io.BytesIO(wav.data), "rb") as reader:
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
    decoded = np.round(decode_audio(flac.data, rate=22_050) * 32768).astype(np.int16)
    np.testing.assert_array_equal(decoded, samples)


@pytest.mark.parametrize("provider", list(SPEAKERS))
async def test_speed_is_the_same_multiplier_on_every_speaker(client: PrizmClient, provider: str) -> None:
    text = "One sentence, spoken at its normal rate and then twice as fast."
    seconds = {}
    for speed in (1.0, 2.0):
        result = await client.run(
            "text-to-audio", text, model=SPEAKERS[provider], options={"speed": speed}, timeout=60
        )
        seconds[speed] = wav_seconds_and_rms(result.outputs[0].data)[0]
    # Twice as fast takes about half as long (pauses and sentence ends do not all shrink).
    assert 0.4 < seconds[2.0] / seconds[1.0] < 0.7, seconds


async def test_an_unknown_language_is_refused_by_both_speakers(client: PrizmClient) -> None:
    for model in SPEAKERS.values():
        with pytest.raises(PrizmError) as caught:
            await client.run(
                "text-to-audio", "Hallo.", model=model, options={"language": "xx-YY"}, timeout=30
            )
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.reason == Reason.INVALID_OPTIONS
        assert [name for name, _ in caught.value.field_violations] == ["options.language"]


async def test_voice_picks_an_espeak_variant_speaking_the_language(client: PrizmClient) -> None:
    outputs = {}
    for voice in ("", "female2", "klatt"):
        options = {"language": "de", "voice": voice} if voice else {"language": "de"}
        result = await client.run(
            "text-to-audio", "Guten Tag.", model="espeak-ng", options=options, timeout=30
        )
        (outputs[voice],) = result.outputs
        assert outputs[voice].metadata["voice"] == voice
        assert wav_seconds_and_rms(outputs[voice].data)[1] > 500
    assert len({output.sha256 for output in outputs.values()}) == 3, "each voice sounds different"
    with pytest.raises(PrizmError) as caught:
        await client.run("text-to-audio", "Hi.", model="espeak-ng", options={"voice": "nobody"}, timeout=30)
    assert [name for name, _ in caught.value.field_violations] == ["options.voice"]
