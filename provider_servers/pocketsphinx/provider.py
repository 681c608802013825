"""PocketSphinx: offline English speech recognition with the model shipped in its wheel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from importlib.metadata import version

from pocketsphinx import Decoder

from prizm_core.errors import PrizmError, Reason, invalid_argument
from provider_servers.sdk import (
    Capability,
    Event,
    InputAsset,
    Job,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    Progress,
    Provider,
    ProviderKind,
    Usage,
)
from provider_servers.sdk.audio import (
    COMPRESSED_AUDIO_MIME_TYPES,
    WAV_MIME_TYPES,
    Pcm,
    decode_audio,
    decode_wav,
    probe_seconds,
    resample,
)
from provider_servers.sdk.standard_options import standard_param
from provider_servers.sdk.tools import missing_tools

__all__ = ["PocketsphinxProvider", "pocketsphinx_model"]

SAMPLE_RATE = 16_000
# Audio fed to the decoder per step: short enough for prompt cancel and fine-grained progress.
STEP_SECONDS = 0.5
MAX_AUDIO_SECONDS = 30 * 60

LANGUAGE = "en-US"


def pocketsphinx_model(decodes_compressed: bool) -> ModelSpec:
    """The model; with `decodes_compressed` (ffmpeg is installed) it takes mp3, Ogg, FLAC, m4a and
    WebM besides WAV."""
    formats = "WAV, mp3, Ogg, FLAC, m4a or WebM" if decodes_compressed else "PCM WAV"
    return ModelSpec(
        id="en-us",
        display_name="PocketSphinx US English",
        description=(
            "CMU PocketSphinx continuous speech recognition with the US English acoustic model, "
            "language model and dictionary shipped in the pocketsphinx wheel. Fast and offline; "
            f"accuracy is well below modern neural recognizers. {formats} in, plain text out."
        ),
        capabilities=(Capability.AUDIO_TO_TEXT,),
        parameters=(
            standard_param(
                "language",
                note="PocketSphinx: only the US English model ships.",
                default=LANGUAGE,
                choices=(LANGUAGE,),
            ),
        ),
        input_mime_types=WAV_MIME_TYPES + (COMPRESSED_AUDIO_MIME_TYPES if decodes_compressed else ()),
        output_mime_type="text/plain; charset=utf-8",
    )


def _mime(asset: InputAsset) -> str:
    return asset.mime_type.split(";")[0].strip().lower()


def _undecodable(asset: InputAsset, why: str) -> PrizmError:
    return invalid_argument(
        [("inputs[0].data", f"cannot decode it as {_mime(asset)}: {why}")], reason=Reason.UNSUPPORTED_MEDIA
    )


class PocketsphinxProvider(Provider):
    """Speech to text with PocketSphinx, fed in small steps so progress follows the audio."""

    id = "pocketsphinx"
    display_name = "PocketSphinx"
    kind = ProviderKind.LOCAL
    version = version("pocketsphinx")
    description = "Local offline speech recognition (CMU PocketSphinx). No key, no network."

    def __init__(self) -> None:
        # Decoders are not thread-safe and take ~0.4 s to load: keep idle ones for reuse. Each job
        # gives its decoder a fresh front end first (see transform), so reuse changes nothing.
        self._idle: list[Decoder] = []
        # Formats other than WAV are decoded by ffmpeg: the model takes them where it is installed.
        self._model = pocketsphinx_model(decodes_compressed=not missing_tools("ffmpeg", "ffprobe"))

    def models(self) -> Sequence[ModelSpec]:
        """The one recognizer this provider ships."""
        return [self._model]

    async def warm_up(self) -> None:
        """Loads one decoder."""
        self._idle.append(await asyncio.to_thread(Decoder, samprate=SAMPLE_RATE))

    def _check_formats(self, job: Job) -> None:
        """Refuses, by name, a MIME type this model does not decode (here)."""
        accepted = self._model.input_mime_types
        for index, asset in enumerate(job.inputs):
            mime = _mime(asset)
            if mime in accepted:
                continue
            why = (
                f"{mime} is decoded with ffmpeg, which is not installed where this provider runs; "
                "send audio/wav"
                if mime in COMPRESSED_AUDIO_MIME_TYPES
                else f"{mime or 'no MIME type'} is not an audio format this model decodes; "
                f"it takes {', '.join(accepted)}"
            )
            raise invalid_argument([(f"inputs[{index}].mime_type", why)], reason=Reason.UNSUPPORTED_MEDIA)

    def _seconds(self, job: Job) -> float | None:
        """The input's length, read before any work: from the WAV itself or by ffprobe (None if
        the container does not say)."""
        asset = job.inputs[0]
        try:
            if _mime(asset) in WAV_MIME_TYPES:
                return decode_wav(asset.read()).duration_s
            return probe_seconds(asset.file(job.workdir, "input"))
        except ValueError as exc:
            raise _undecodable(asset, str(exc)) from exc

    async def _decoded(self, job: Job) -> Pcm:
        """The input as mono PCM: a WAV read here, any other format decoded by ffmpeg."""
        asset = job.inputs[0]
        try:
            if _mime(asset) in WAV_MIME_TYPES:
                return await asyncio.to_thread(decode_wav, asset.read())
            source = await asyncio.to_thread(asset.file, job.workdir, "input")
            return await decode_audio(source, job.workdir, SAMPLE_RATE)
        except ValueError as exc:
            raise _undecodable(asset, str(exc)) from exc

    def check_inputs(self, job: Job) -> None:
        """Also rejects a MIME type it does not decode, audio it cannot decode, and audio longer
        than MAX_AUDIO_SECONDS."""
        self._check_formats(job)
        super().check_inputs(job)
        seconds = self._seconds(job)
        if seconds is not None:
            _check_length(seconds)

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """Seconds of input audio (0 when its container does not say)."""
        return {MediaUnit.INPUT_AUDIO_SECOND: self._seconds(job) or 0.0}

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Feeds the audio to a decoder step by step, reporting seconds done over the duration."""
        source = await self._decoded(job)
        _check_length(source.duration_s)  # also for a container that did not say before
        pcm = await asyncio.to_thread(resample, source, SAMPLE_RATE)
        decoder = self._idle.pop() if self._idle else await asyncio.to_thread(Decoder, samprate=SAMPLE_RATE)
        step = int(STEP_SECONDS * SAMPLE_RATE)
        total = len(pcm.samples)
        # A decoder adapts to what it hears: the front end's noise estimate (remove_noise, never
        # reset by start_utt) and the cepstral mean carry over from one utterance to the next, so
        # a pooled decoder would hear this job through the jobs before it and transcribe the same
        # audio differently. reinit_feat builds the front end and feature computation afresh from
        # the config (cepstral mean back to cmninit), as a newly loaded decoder has them, in ~30 us
        # instead of a reload's ~0.3 s; set_cmn alone is not enough (the noise estimate stays).
        decoder.reinit_feat()
        # A cancel can land while a worker thread still uses the decoder: only a decoder
        # that finished its utterance goes back to the pool.
        decoder.start_utt()
        for offset in range(0, total, step):
            block = pcm.samples[offset : offset + step].tobytes()
            await asyncio.to_thread(decoder.process_raw, block, False, False)
            done = min(offset + step, total)
            yield Progress(
                fraction=done / total,
                stage="recognize",
                message=f"{done / SAMPLE_RATE:.1f} s of {pcm.duration_s:.1f} s",
            )
        await asyncio.to_thread(decoder.end_utt)
        hypothesis = decoder.hyp()
        self._idle.append(decoder)
        text = hypothesis.hypstr if hypothesis is not None else ""
        yield Output(
            kind=MediaKind.TEXT,
            mime_type="text/plain; charset=utf-8",
            data=text.encode("utf-8"),
            metadata={
                "audio_duration_s": f"{source.duration_s:.3f}",
                "language": str(job.options["language"]),
            },
        )
        yield Usage({MediaUnit.INPUT_AUDIO_SECOND: source.duration_s})


def _check_length(seconds: float) -> None:
    if seconds > MAX_AUDIO_SECONDS:
        raise invalid_argument(
            [("inputs[0].data", f"audio is longer than {MAX_AUDIO_SECONDS} s")],
            reason=Reason.INPUT_TOO_LARGE,
        )
