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

from prizm_core.errors import PrizmError, Reason, invalid_argument
from provider_servers.espeak.sentences import split_sentences
from provider_servers.espeak.voices import Voice, language_choices, parse_variants, parse_voices
from provider_servers.sdk import (
    Capability,
    Event,
    Job,
    MediaKind,
    MediaUnit,
    ModelSpec,
    OptionValue,
    Output,
    Param,
    Progress,
    Provider,
    ProviderKind,
    Usage,
)
from provider_servers.sdk.audio import (
    AUDIO_ENCODINGS,
    Pcm,
    decode_wav,
    encode_audio,
    require_encoder,
    resample,
)
from provider_servers.sdk.standard_options import standard_param
from provider_servers.sdk.tools import ToolError, missing_tools, tool_lines

__all__ = ["EspeakProvider", "espeak_model"]

log = logging.getLogger(__name__)

PROGRAM = "espeak-ng"
DEFAULT_LANGUAGE = "en-US"
MAX_TEXT_CHARACTERS = 100_000
# espeak-ng's normal rate, what `speed` 1 means: its -s default, in words per minute. It takes 80
# to 450, so `speed` goes from 0.5 to 2.5 (87 to 437 words per minute).
NORMAL_WORDS_PER_MINUTE = 175
# espeak-ng's -g counts pauses between words in units of 10 ms.
_GAP_UNIT_MS = 10


def _parameters(languages: tuple[str, ...], variants: tuple[str, ...]) -> tuple[Param, ...]:
    return (
        standard_param(
            "language",
            note="espeak-ng: every language and accent its --voices lists (any before warm-up).",
            default=DEFAULT_LANGUAGE,
            choices=languages,
        ),
        standard_param(
            "voice",
            note="espeak-ng: a voice variant its --voices=variant lists (e.g. female2, klatt), "
            "speaking the language; leave out for the language's own voice.",
            choices=variants,
        ),
        standard_param(
            "speed",
            note=f"espeak-ng: 1 is {NORMAL_WORDS_PER_MINUTE} words per minute.",
            default=1.0,
            minimum=0.5,
            maximum=2.5,
        ),
        standard_param(
            "format",
            note="espeak-ng: wav as spoken; mp3, ogg (Vorbis) and flac encoded by ffmpeg.",
            default="wav",
            choices=tuple(AUDIO_ENCODINGS),
        ),
        Param("pitch", "integer", "Base pitch, 0 (low) to 99 (high).", default=50, minimum=0, maximum=99),
        Param(
            "gap",
            "integer",
            "Extra pause between words, in ms (10 ms steps).",
            default=0,
            minimum=0,
            maximum=2000,
        ),
    )


def espeak_model(voices: Sequence[Voice], variants: Sequence[str] = ()) -> ModelSpec:
    """The model, with the `language` choices these voices give and the `voice` choices of these
    variant names (any before they are known)."""
    languages = len({voice.language for voice in voices})
    return ModelSpec(
        id="espeak-ng",
        display_name="eSpeak NG (formant synthesis, many languages)",
        description=(
            "eSpeak NG formant text-to-speech: robotic but clear, fast on any CPU, in "
            f"{languages or 'about a hundred'} languages and accents (`language`, e.g. en-US, de, fr). "
            "Not a neural voice. 22.05 kHz mono WAV out (mp3, Ogg Vorbis or FLAC through ffmpeg); "
            "one progress event per sentence."
        ),
        capabilities=(Capability.TEXT_TO_AUDIO,),
        parameters=_parameters(language_choices(voices), tuple(sorted(variants))),
        input_mime_types=("text/plain",),
        output_mime_type="audio/wav",
    )


def _argv(options: Mapping[str, OptionValue], variants: Mapping[str, str]) -> list[str]:
    """espeak-ng's options for a job, before the input and output files; `variants` maps each
    `voice` to its variant file."""
    gap = round(int(options["gap"]) / _GAP_UNIT_MS)
    words_per_minute = round(float(options["speed"]) * NORMAL_WORDS_PER_MINUTE)
    # -v takes a language code in any case, then +VARIANT to speak it in another voice.
    voice = f"+{variants[str(options['voice'])]}" if "voice" in options else ""
    return [
        PROGRAM,
        *("-v", f"{options['language']}{voice}"),
        *("-s", str(words_per_minute)),
        *("-p", str(options["pitch"])),
        *("-g", str(gap)),
        *("-b", "1"),  # the input file is UTF-8
    ]


class EspeakProvider(Provider):
    """Text to speech with espeak-ng, a process per sentence so progress is real and a cancel kills it."""

    id = "espeak"
    display_name = "eSpeak NG"
    kind = ProviderKind.LOCAL
    description = "Local formant text-to-speech in many languages (espeak-ng). No key, no network."

    def __init__(self) -> None:
        self._model = espeak_model(())
        self._variants: dict[str, str] = {}
        self._engine = PROGRAM

    @classmethod
    def missing(cls) -> list[str]:
        """espeak-ng, when it is not on the PATH."""
        return [f"{name} (Debian: apt-get install espeak-ng)" for name in missing_tools(PROGRAM)]

    def models(self) -> Sequence[ModelSpec]:
        """The one model; its language choices are filled in at warm-up."""
        return [self._model]

    async def warm_up(self) -> None:
        """Reads espeak-ng's version, and the voices and variants it has for the `language` and
        `voice` choices."""
        banner = [line async for line in tool_lines([PROGRAM, "--version"])]
        found = re.search(r"\d+\.\d+\S*", banner[0] if banner else "")
        self._engine = f"{PROGRAM} {found.group()}" if found else PROGRAM
        listing = [line async for line in tool_lines([PROGRAM, "--voices"])]
        voices = parse_voices(listing)
        if not voices:
            raise RuntimeError(f"{PROGRAM} --voices lists no voices")
        listing = [line async for line in tool_lines([PROGRAM, "--voices=variant"])]
        self._variants = parse_variants(listing)
        self._model = espeak_model(voices, tuple(self._variants))
        log.info("%s ready with %d voices and %d variants", self._engine, len(voices), len(self._variants))

    def check_inputs(self, job: Job) -> None:
        """Also rejects text with nothing to say, text over MAX_TEXT_CHARACTERS and a format it
        cannot write here."""
        super().check_inputs(job)
        require_encoder(str(job.options["format"]))
        text = job.inputs[0].text()
        if len(text) > MAX_TEXT_CHARACTERS:
            raise invalid_argument(
                [("inputs[0].data", f"text is longer than {MAX_TEXT_CHARACTERS} characters")],
                reason=Reason.INPUT_TOO_LARGE,
            )
        if not split_sentences(text):
            raise invalid_argument([("inputs[0].data", "text has no words to say")])

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """Characters of input text."""
        return {MediaUnit.INPUT_CHARACTER: float(len(job.inputs[0].text().strip()))}

    async def _speak(self, argv: list[str], workdir: Path, sentence: str) -> Pcm:
        """One sentence through espeak-ng, into a WAV file in the job's folder and back."""
        source, target = workdir / "sentence.txt", workdir / "sentence.wav"
        await asyncio.to_thread(source.write_text, sentence, "utf-8")
        try:
            async for _ in tool_lines([*argv, "-f", str(source), "-w", str(target)], cwd=workdir):
                pass  # with -w it prints nothing; the loop waits for it to exit
        except ToolError as exc:
            raise PrizmError(
                grpc.StatusCode.INTERNAL, Reason.TOOL_FAILED, f"{PROGRAM} failed: {exc.last_line(workdir)}"
            ) from exc
        data = await asyncio.to_thread(target.read_bytes)
        await asyncio.to_thread(target.unlink)
        return decode_wav(data)

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Speaks the text sentence by sentence and joins the audio into one WAV."""
        text = job.inputs[0].text()
        sentences = split_sentences(text)
        total = len(sentences)
        argv = _argv(job.options, self._variants)
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
        audio_format = str(job.options["format"])
        yield Output(
            kind=MediaKind.AUDIO,
            mime_type=AUDIO_ENCODINGS[audio_format].mime_type,
            data=await encode_audio(samples, rate or 22_050, audio_format, job.workdir),
            metadata={
                "duration_s": f"{duration:.3f}",
                "sample_rate": str(rate),
                "channels": "1",
                "language": str(job.options["language"]),
                "voice": str(job.options.get("voice", "")),
                "sentences": str(total),
                "engine": self._engine,
            },
        )
        yield Usage(
            {
                MediaUnit.INPUT_CHARACTER: float(len(text.strip())),
                MediaUnit.OUTPUT_AUDIO_SECOND: duration,
            }
        )
