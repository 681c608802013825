"""The contract cases of every provider: a valid input, a long one to cancel, a check of the output."""

from __future__ import annotations

import io
import wave

import numpy as np
from prizm.v1 import media_pb2 as media_pb

from prizm_core.assets import text_asset
from provider_servers.synthetic.provider import synthetic_output
from tests.contract import cases_ffmpeg, cases_local
from tests.contract.case import Case
from tests.support.media import SENTENCE, long_speech_wav, speech_wav, wav_asset
from tests.support.mesh import recognised_words

__all__ = ["CASES"]


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
        sample=lambda: wav_asset(speech_wav()),
        long_input=lambda: wav_asset(long_speech_wav()),
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
CASES.update(cases_ffmpeg.CASES)
CASES.update(cases_local.CASES)
