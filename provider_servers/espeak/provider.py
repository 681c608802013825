"""espeak-ng: formant text-to-speech in the many languages it speaks, one sentence at a time."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import grpc
import numpy as np
import numpy.typing as npt
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core.errors import PrizmError, invalid_argument
from provider_servers.espeak.sentences import split_sentences
from provider_servers.espeak.voices import Voice, parse_voices, voice_choices
from provider_servers.sdk import Event, Job, ModelSpec, OptionValue, Output, Param, Progress, Provider, Usage
from provider_servers.sdk.audio import Pcm, decode_wav, encode_wav, resample
from provider_servers.sdk.tools import ToolError, missing_tools, tool_lines

__all__ = ["EspeakProvider", "espeak_model"]

log = logging.getLogger(__name__)

PROGRAM = "espeak-ng"
DEFAULT_VOICE = "en-us"
MAX_TEXT_CHARACTERS = 100_000
# espeak-ng's -g counts pauses between words in units of 10 ms.
_GAP_UNIT_MS = 10


def espeak_model(voices: Sequence[Voice]) -> ModelSpec:
    """The model, with the `voice` choices these voices give (any string before they are known)."""
    choices = voice_choices(voices)
    languages = len({voice.language for voice in voices})
    return ModelSpec(
        id="espeak-ng",
        display_name="eSpeak NG (formant synthesis, many languages)",
        description=(
            "eSpeak NG formant text-to-speech: robotic but clear, fast on any CPU, in "
            f"{languages or 'about a hundred'} languages and accents (`voice`, e.g. en-us, de, fr). "
            "Not a neural voice. 22.05 kHz mono WAV out; one progress event per sentence."
        ),
        capabilities=(media_pb.CAPABILITY_TEXT_TO_AUDIO,),
        parameters=(
            Param(
                "voice",
                "string",
                "Language or accent, as espeak-ng --voices lists them.",
                DEFAULT_VOICE,
                choices=choices,
            ),
            Param("speed", "integer", "Words per minute.", default=175, minimum=80, maximum=450),
            Param("pitch", "integer", "Base pitch, 0 (low) to 99 (high).", default=50, minimum=0, maximum=99),
            Param(
                "gap",
                "integer",
                "Extra pause between words, in ms (10 ms steps).",
                default=0,
                minimum=0,
                maximum=2000,
            ),
        ),
        input_mime_types=("text/plain",),
        output_mime_type="audio/wav",
    )


def _argv(options: Mapping[str, OptionValue]) -> list[str]:
    """espeak-ng's options for a job, before the input and output files."""
    gap = round(int(options["gap"]) / _GAP_UNIT_MS)
    return [
        PROGRAM,
        *("-v", str(options["voice"])),
        *("-s", str(options["speed"])),
        *("-p", str(options["pitch"])),
        *("-g", str(gap)),
        *("-b", "1"),  # the input file is UTF-8
    ]


class EspeakProvider(Provider):
    """Text to speech with espeak-ng, a process per sentence so progress is real and a cancel kills it."""

    id = "espeak"
    display_name = "eSpeak NG"
    kind = catalog_pb.PROVIDER_KIND_LOCAL
    description = "Local formant text-to-speech in many languages (espeak-ng). No key, no network."

    def __init__(self) -> None:
        self._model = espeak_model(())
        self._engine = PROGRAM

    @classmethod
    def missing(cls) -> list[str]:
        """espeak-ng, when it is not on the PATH."""
        return [f"{name} (Debian: apt-get install espeak-ng)" for name in missing_tools(PROGRAM)]

    def models(self) -> Sequence[ModelSpec]:
        """The one model; its voice choices are filled in at warm-up."""
        return [self._model]

    async def warm_up(self) -> None:
        """Reads espeak-ng's version, and the voices it has for the `voice` choices."""
        banner = [line async for line in tool_lines([PROGRAM, "--version"])]
        found = re.search(r"\d+\.\d+\S*", banner[0] if banner else "")
        self._engine = f"{PROGRAM} {found.group()}" if found else PROGRAM
        listing = [line async for line in tool_lines([PROGRAM, "--voices"])]
        voices = parse_voices(listing)
        if not voices:
            raise RuntimeError(f"{PROGRAM} --voices lists no voices")
        self._model = espeak_model(voices)
        log.info("%s ready with %d voices", self._engine, len(voices))

    def check_inputs(self, job: Job) -> None:
        """Also rejects text with nothing to say and text over MAX_TEXT_CHARACTERS."""
        super().check_inputs(job)
        text = job.inputs[0].text()
        if len(text) > MAX_TEXT_CHARACTERS:
            raise invalid_argument(
                [("inputs[0].data", f"text is longer than {MAX_TEXT_CHARACTERS} characters")],
                reason="INPUT_TOO_LARGE",
            )
        if not split_sentences(text):
            raise invalid_argument([("inputs[0].data", "text has no words to say")])

    def measure(self, job: Job) -> Mapping[catalog_pb.MediaUnit.ValueType, float]:
        """Characters of input text."""
        return {catalog_pb.MEDIA_UNIT_INPUT_CHARACTER: float(len(job.inputs[0].text().strip()))}

    async def _speak(self, argv: list[str], workdir: Path, sentence: str) -> Pcm:
        """One sentence through espeak-ng, into a WAV file in the job's folder and back."""
        source, target = workdir / "sentence.txt", workdir / "sentence.wav"
        await asyncio.to_thread(source.write_text, sentence, "utf-8")
        try:
            async for _ in tool_lines([*argv, "-f", str(source), "-w", str(target)], cwd=workdir):
                pass  # with -w it prints nothing; the loop waits for it to exit
        except ToolError as exc:
            raise PrizmError(
                grpc.StatusCode.INTERNAL, "SYNTHESIS_FAILED", f"{PROGRAM} failed: {exc.last_line(workdir)}"
            ) from exc
        data = await asyncio.to_thread(target.read_bytes)
        await asyncio.to_thread(target.unlink)
        return decode_wav(data)

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Speaks the text sentence by sentence and joins the audio into one WAV."""
        text = job.inputs[0].text()
        sentences = split_sentences(text)
        total = len(sentences)
        argv = _argv(job.options)
        yield Progress(fraction=0.0, stage="split", message=f"{total} sentence(s) to speak")
        pieces: list[npt.NDArray[np.int16]] = []
        rate = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        for done, sentence in enumerate(sentences, start=1):
            pcm = await self._speak(argv, job.workdir, sentence)
            rate = rate or pcm.sample_rate
            pieces.append(resample(pcm, rate).samples)
            elapsed = loop.time() - started
            yield Progress(
                fraction=done / total,
                stage="synthesize",
                message=f"sentence {done}/{total}",
                eta_s=elapsed / done * (total - done),
            )
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
        duration = len(samples) / rate if rate else 0.0
        yield Output(
            kind=media_pb.MEDIA_KIND_AUDIO,
            mime_type="audio/wav",
            data=encode_wav(samples, rate or 22_050),
            metadata={
                "duration_s": f"{duration:.3f}",
                "sample_rate": str(rate),
                "channels": "1",
                "voice": str(job.options["voice"]),
                "sentences": str(total),
                "engine": self._engine,
            },
        )
        yield Usage(
            {
                catalog_pb.MEDIA_UNIT_INPUT_CHARACTER: float(len(text.strip())),
                catalog_pb.MEDIA_UNIT_OUTPUT_AUDIO_SECOND: duration,
            }
        )
