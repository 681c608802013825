"""PocketSphinx: offline English speech recognition with the model shipped in its wheel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from importlib.metadata import version

from pocketsphinx import Decoder
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core.errors import invalid_argument
from provider_servers.sdk import Event, Job, ModelSpec, Output, Progress, Provider, Usage
from provider_servers.sdk.audio import Pcm, decode_wav, resample

__all__ = ["PocketsphinxProvider"]

SAMPLE_RATE = 16_000
# Audio fed to the decoder per step: short enough for prompt cancel and fine-grained progress.
STEP_SECONDS = 0.5
MAX_AUDIO_SECONDS = 30 * 60

MODEL = ModelSpec(
    id="en-us",
    display_name="PocketSphinx US English",
    description=(
        "CMU PocketSphinx continuous speech recognition with the US English acoustic model, "
        "language model and dictionary shipped in the pocketsphinx wheel. Fast and offline; "
        "accuracy is well below modern neural recognizers. PCM WAV in, plain text out."
    ),
    capabilities=(media_pb.CAPABILITY_AUDIO_TO_TEXT,),
    input_mime_types=("audio/wav", "audio/x-wav", "audio/wave"),
    output_mime_type="text/plain; charset=utf-8",
)


class PocketsphinxProvider(Provider):
    """Speech to text with PocketSphinx, fed in small steps so progress follows the audio."""

    id = "pocketsphinx"
    display_name = "PocketSphinx"
    kind = catalog_pb.PROVIDER_KIND_LOCAL
    version = version("pocketsphinx")
    description = "Local offline speech recognition (CMU PocketSphinx). No key, no network."

    def __init__(self) -> None:
        # Decoders are not thread-safe and take ~0.4 s to load: keep idle ones for reuse. Each job
        # gives its decoder a fresh front end first (see transform), so reuse changes nothing.
        self._idle: list[Decoder] = []

    def models(self) -> Sequence[ModelSpec]:
        """The one recognizer this provider ships."""
        return [MODEL]

    async def warm_up(self) -> None:
        """Loads one decoder."""
        self._idle.append(await asyncio.to_thread(Decoder, samprate=SAMPLE_RATE))

    def _audio(self, job: Job) -> Pcm:
        try:
            return decode_wav(job.inputs[0].read())
        except ValueError as exc:
            raise invalid_argument([("inputs[0].data", str(exc))], reason="UNSUPPORTED_MEDIA") from exc

    def check_inputs(self, job: Job) -> None:
        """Also rejects audio that is not PCM WAV or is longer than MAX_AUDIO_SECONDS."""
        super().check_inputs(job)
        if self._audio(job).duration_s > MAX_AUDIO_SECONDS:
            raise invalid_argument(
                [("inputs[0].data", f"audio is longer than {MAX_AUDIO_SECONDS} s")],
                reason="INPUT_TOO_LARGE",
            )

    def measure(self, job: Job) -> Mapping[catalog_pb.MediaUnit.ValueType, float]:
        """Seconds of input audio."""
        return {catalog_pb.MEDIA_UNIT_INPUT_AUDIO_SECOND: self._audio(job).duration_s}

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Feeds the audio to a decoder step by step, reporting seconds done over the duration."""
        source = self._audio(job)
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
            kind=media_pb.MEDIA_KIND_TEXT,
            mime_type="text/plain; charset=utf-8",
            data=text.encode("utf-8"),
            metadata={"audio_duration_s": f"{source.duration_s:.3f}", "language": "en-US"},
        )
        yield Usage({catalog_pb.MEDIA_UNIT_INPUT_AUDIO_SECOND: source.duration_s})
