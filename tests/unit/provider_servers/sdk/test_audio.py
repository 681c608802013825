"""WAV in and out, mono mixdown and resampling, checked on the decoded samples."""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import grpc
import numpy as np
import numpy.typing as npt
import pytest

from prizm_core.errors import PrizmError, Reason
from provider_servers.sdk.audio import (
    AUDIO_ENCODINGS,
    Pcm,
    decode_audio,
    decode_wav,
    encode_audio,
    encode_wav,
    probe_seconds,
    require_encoder,
    resample,
)


def _sine(frequency: float, rate: int, seconds: float, amplitude: float = 12_000.0) -> npt.NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def _zero_crossings(samples: npt.NDArray[np.int16]) -> int:
    signs = np.sign(samples.astype(np.int64))
    signs = signs[signs != 0]
    return int(np.count_nonzero(signs[1:] != signs[:-1]))


def _wav(frames: bytes, *, channels: int, width: int, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def test_encode_decode_round_trip_keeps_every_sample() -> None:
    samples = np.array([0, 1, -1, 32767, -32768, 1234, -4321], dtype=np.int16)
    data = encode_wav(samples, 22_050)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (
            1,
            2,
            22_050,
            7,
        )
    pcm = decode_wav(data)
    assert pcm.sample_rate == 22_050
    assert pcm.samples.dtype == np.int16
    np.testing.assert_array_equal(pcm.samples, samples)
    assert pcm.duration_s == pytest.approx(7 / 22_050)


def test_round_trip_of_a_second_of_sine() -> None:
    samples = _sine(440, 16_000, 1.0)
    pcm = decode_wav(encode_wav(samples, 16_000))
    np.testing.assert_array_equal(pcm.samples, samples)
    assert pcm.duration_s == pytest.approx(1.0)


def test_stereo_is_mixed_down_to_the_mean() -> None:
    left = np.array([1000, -2000, 3000, 0], dtype="<i2")
    right = np.array([3000, 2000, -3000, 100], dtype="<i2")
    frames = np.column_stack([left, right]).astype("<i2").tobytes()
    pcm = decode_wav(_wav(frames, channels=2, width=2, rate=8000))
    assert pcm.sample_rate == 8000
    np.testing.assert_array_equal(pcm.samples, [2000, 0, 0, 50])


def test_eight_bit_unsigned_is_centred_and_scaled() -> None:
    frames = bytes([128, 255, 0, 192, 64])
    pcm = decode_wav(_wav(frames, channels=1, width=1, rate=8000))
    np.testing.assert_array_equal(pcm.samples, [0, 127 * 256, -32768, 64 * 256, -64 * 256])


def test_eight_bit_stereo_mixdown() -> None:
    frames = bytes([128, 192, 0, 128])  # (0, +64) and (-128, 0) in signed terms
    pcm = decode_wav(_wav(frames, channels=2, width=1, rate=8000))
    np.testing.assert_array_equal(pcm.samples, [32 * 256, -64 * 256])


def test_thirty_two_bit_is_scaled_to_sixteen() -> None:
    values = np.array([0, 65536 * 1000, -65536 * 2000, 2**31 - 1], dtype="<i4")
    pcm = decode_wav(_wav(values.tobytes(), channels=1, width=4, rate=8000))
    np.testing.assert_array_equal(pcm.samples, [0, 1000, -2000, 32767])


@pytest.mark.parametrize(
    "data",
    [b"", b"not a wav file at all", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"\x00" * 64],
)
def test_decode_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a PCM WAV file"):
        decode_wav(data)


def test_decode_rejects_unsupported_sample_width() -> None:
    data = _wav(b"\x00\x00\x00" * 4, channels=1, width=3, rate=8000)
    with pytest.raises(ValueError, match="unsupported WAV sample width: 24 bit"):
        decode_wav(data)


@pytest.mark.parametrize(("source", "target"), [(22_050, 16_000), (16_000, 48_000), (44_100, 8_000)])
def test_resample_keeps_duration_and_frequency(source: int, target: int) -> None:
    pcm = Pcm(samples=_sine(440, source, 1.0), sample_rate=source)
    out = resample(pcm, target)
    assert out.sample_rate == target
    assert len(out.samples) == target
    assert out.duration_s == pytest.approx(1.0)
    # 440 Hz crosses zero 880 times a second; allow a few for the edges.
    assert abs(_zero_crossings(out.samples) - 880) <= 4
    assert int(np.max(np.abs(out.samples))) > 11_000


def test_resample_to_the_same_rate_and_of_nothing() -> None:
    samples = _sine(100, 8000, 0.01)
    same = resample(Pcm(samples=samples, sample_rate=8000), 8000)
    np.testing.assert_array_equal(same.samples, samples)
    empty = resample(Pcm(samples=np.zeros(0, dtype=np.int16), sample_rate=8000), 16_000)
    assert (len(empty.samples), empty.sample_rate) == (0, 16_000)


@pytest.mark.parametrize(("audio_format", "magic"), [("mp3", b"ID3"), ("ogg", b"OggS"), ("flac", b"fLaC")])
async def test_encoded_formats_decode_back_to_the_same_tone(
    tmp_path: Path, audio_format: str, magic: bytes
) -> None:
    tone = _sine(440, 22_050, 1.5)
    data = await encode_audio(tone, 22_050, audio_format, tmp_path)
    assert data.startswith(magic) and AUDIO_ENCODINGS[audio_format].mime_type.startswith("audio/")
    source = tmp_path / f"tone.{audio_format}"
    source.write_bytes(data)
    assert probe_seconds(source) == pytest.approx(1.5, abs=0.1)
    pcm = await decode_audio(source, tmp_path)
    assert pcm.sample_rate == 22_050
    # Encoder delay and padding may add a few milliseconds; the pitch is the tone's.
    assert pcm.duration_s == pytest.approx(1.5, abs=0.1)
    assert abs(_zero_crossings(pcm.samples) / pcm.duration_s - 880) < 10
    if audio_format == "flac":  # lossless: every sample comes back
        np.testing.assert_array_equal(pcm.samples, tone)
    assert sorted(path.name for path in await asyncio.to_thread(lambda: list(tmp_path.iterdir()))) == [
        source.name
    ], "no temporary files left"


async def test_wav_is_written_without_ffmpeg_and_the_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    tone = _sine(300, 16_000, 0.5)
    assert await encode_audio(tone, 16_000, "wav", tmp_path) == encode_wav(tone, 16_000)
    first = await encode_audio(tone, 16_000, "ogg", tmp_path)
    assert await encode_audio(tone, 16_000, "ogg", tmp_path) == first, "the Ogg serial must not be random"


def test_formats_but_wav_are_refused_clearly_where_ffmpeg_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    require_encoder("wav")
    with pytest.raises(PrizmError) as caught:
        require_encoder("mp3")
    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.reason == Reason.TOOL_MISSING
    assert "format mp3 is encoded by ffmpeg, which is not installed" in caught.value.message


async def test_what_ffmpeg_cannot_read_is_a_value_error_with_its_reason(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(ValueError, match=r"^Invalid (argument|data)"):
        probe_seconds(garbage)
    with pytest.raises(ValueError, match="ffmpeg cannot decode it"):
        await decode_audio(garbage, tmp_path)


async def test_decoding_mixes_down_and_resamples_when_asked(tmp_path: Path) -> None:
    left, right = _sine(440, 44_100, 1.0), _sine(440, 44_100, 1.0)
    stereo = np.column_stack([left, right]).reshape(-1).tobytes()
    source = tmp_path / "stereo.wav"
    source.write_bytes(_wav(stereo, channels=2, width=2, rate=44_100))
    pcm = await decode_audio(source, tmp_path, sample_rate=16_000)
    assert (pcm.sample_rate, len(pcm.samples)) == (16_000, 16_000)
    assert abs(_zero_crossings(pcm.samples) - 880) <= 4
    assert int(np.max(np.abs(pcm.samples))) > 11_000
