"""ffmpeg: audio and video conversions, frames, slideshows and title cards, with real progress."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import grpc

from prizm_core import __version__
from prizm_core.capabilities import capability_info
from prizm_core.errors import PrizmError, Reason, invalid_argument
from provider_servers.ffmpeg.checks import OPTION_CHECKS, STREAM_CHECKS
from provider_servers.ffmpeg.commands import (
    Plan,
    Request,
    Source,
    Step,
    convert_audio,
    extract_audio,
    transcode,
)
from provider_servers.ffmpeg.models import (
    CONVERT_AUDIO,
    EXTRACT_AUDIO,
    FRAMES,
    MAX_TITLE_CHARACTERS,
    MODELS,
    SLIDESHOW,
    TITLE_CARD,
    TRANSCODE,
)
from provider_servers.ffmpeg.pictures import frames, slideshow, title_card
from provider_servers.ffmpeg.probe import MediaInfo, ProbeError, probe, probe_sync
from provider_servers.ffmpeg.progress import ProgressParser, ProgressTracker
from provider_servers.sdk import (
    Event,
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
from provider_servers.sdk.tools import ToolError, file_chunks, missing_tools, tool_lines

__all__ = ["FONT_FILE", "FfmpegProvider"]

log = logging.getLogger(__name__)

FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
# What the models use beyond ffmpeg's core; Debian's ffmpeg package has all of them.
NEEDED_ENCODERS = ("libx264", "libvpx-vp9", "mpeg4", "libmp3lame", "libvorbis", "libopus", "aac", "flac")
NEEDED_FILTERS = ("drawtext", "loudnorm", "tile")
# Probes kept, by input hash: an input is probed once when checked, not again to plan or estimate.
_PROBES_KEPT = 256
_PROBE_THREADS = 8

_PLANNERS: Mapping[str, Callable[[Request], Plan]] = {
    EXTRACT_AUDIO.id: extract_audio,
    CONVERT_AUDIO.id: convert_audio,
    TRANSCODE.id: transcode,
    FRAMES.id: frames,
    SLIDESHOW.id: slideshow,
    TITLE_CARD.id: title_card,
}
_INPUT_UNITS = {
    MediaKind.AUDIO: MediaUnit.INPUT_AUDIO_SECOND,
    MediaKind.VIDEO: MediaUnit.INPUT_VIDEO_SECOND,
}
_OUTPUT_UNITS = {
    MediaKind.AUDIO: MediaUnit.OUTPUT_AUDIO_SECOND,
    MediaKind.VIDEO: MediaUnit.OUTPUT_VIDEO_SECOND,
}


def _lacking(listing: list[str], names: Sequence[str]) -> list[str]:
    """The names that are not listed (as the second column of `ffmpeg -encoders` / `-filters`)."""
    found = subprocess.run(listing, capture_output=True, text=True, check=False).stdout
    listed = {line.split()[1] for line in found.splitlines() if len(line.split()) > 1}
    return [name for name in names if name not in listed]


def _reads_text(job: Job) -> bool:
    return MediaKind(capability_info(job.capability).input_kind) == MediaKind.TEXT


def _input_file(job: Job, index: int) -> Path:
    """The input's file in the job's folder: downloaded there, or written there once if inline."""
    asset = job.inputs[index]
    if asset.path is not None:
        return asset.path
    target = job.workdir / f"source-{index}"
    return target if target.exists() else asset.file(job.workdir, target.name)


def _file_name(job: Job, path: Path) -> str:
    """How ffmpeg, running in the job's folder, names `path`."""
    return path.name if path.parent == job.workdir else str(path)


def _unreadable(problems: Sequence[tuple[int, str]]) -> PrizmError:
    return invalid_argument(
        [(f"inputs[{index}].data", f"ffmpeg cannot read it: {why}") for index, why in problems],
        reason=Reason.UNSUPPORTED_MEDIA,
    )


def _usage(job: Job, plan: Plan, output_s: float | None) -> dict[MediaUnit, float]:
    """Seconds of media read and written (characters for text), one image for a picture."""
    amounts: dict[MediaUnit, float] = {}
    kind = MediaKind(capability_info(job.capability).input_kind)
    read_s = plan.steps[0].expected_s
    if kind in _INPUT_UNITS and read_s:
        amounts[_INPUT_UNITS[kind]] = read_s
    if kind == MediaKind.TEXT:
        amounts[MediaUnit.INPUT_CHARACTER] = float(len(job.inputs[0].text()))
    if plan.kind == MediaKind.IMAGE:
        amounts[MediaUnit.OUTPUT_IMAGE] = 1.0
    elif plan.kind in _OUTPUT_UNITS and output_s:
        amounts[_OUTPUT_UNITS[plan.kind]] = output_s
    return amounts or {MediaUnit.REQUEST: 1.0}


def _metadata(info: MediaInfo | None) -> dict[str, str]:
    """Output metadata from its probe: length, picture size and rate, sample rate and channels."""
    if info is None:
        return {}
    found: dict[str, str] = {}
    if info.duration_s is not None:
        found["duration_s"] = f"{info.duration_s:.3f}"
    if info.video is not None:
        found |= {"width": str(info.video.width), "height": str(info.video.height)}
        found["video_codec" if info.duration_s is not None else "codec"] = info.video.codec
        if info.video.fps is not None and info.duration_s is not None:
            found["fps"] = f"{info.video.fps:g}"
    if info.audio is not None:
        found |= {"sample_rate": str(info.audio.sample_rate), "channels": str(info.audio.channels)}
        found["audio_codec"] = info.audio.codec
    return found


class FfmpegProvider(Provider):
    """Media conversions with the ffmpeg and ffprobe programs, one process group per run.

    Inputs are probed with ffprobe when a job is checked, so media ffmpeg cannot read is refused
    before any work starts; progress follows the media time ffmpeg reports it has written.
    """

    id = "ffmpeg"
    display_name = "ffmpeg"
    kind = ProviderKind.LOCAL
    version = __version__
    description = (
        "Local audio and video conversions with ffmpeg on the CPU: soundtracks, audio conversion and "
        "loudness normalization, transcoding, frames and contact sheets, slideshows and title cards. "
        "No key, no network."
    )
    # Each job runs ffmpeg, which uses several cores by itself.
    max_concurrent_jobs = 4

    def __init__(self) -> None:
        self._probes: OrderedDict[str, MediaInfo] = OrderedDict()

    @classmethod
    def missing(cls) -> list[str]:
        """ffmpeg and ffprobe with the encoders and filters the models use, and the title font."""
        found = []
        if missing_tools("ffmpeg", "ffprobe"):
            found.append("ffmpeg and ffprobe (Debian: apt-get install ffmpeg)")
        else:
            lacking = _lacking(["ffmpeg", "-hide_banner", "-encoders"], NEEDED_ENCODERS)
            lacking += _lacking(["ffmpeg", "-hide_banner", "-filters"], NEEDED_FILTERS)
            if lacking:
                found.append(f"an ffmpeg with {', '.join(lacking)} (Debian: apt-get install ffmpeg)")
        if not FONT_FILE.is_file():
            found.append(
                f"the DejaVu Sans font {FONT_FILE}, for title cards "
                "(Debian: apt-get install fonts-dejavu-core)"
            )
        return found

    def models(self) -> Sequence[ModelSpec]:
        """One model per capability."""
        return MODELS

    def check_inputs(self, job: Job) -> None:
        """Also checks options against each other, probes every input with ffprobe and checks
        the options against what it found (streams present, times inside the media).

        Raises:
            PrizmError: INVALID_ARGUMENT: INVALID_OPTIONS for options that clash or do not fit
                the media, UNSUPPORTED_MEDIA for inputs ffmpeg cannot read or that lack the
                stream the model needs, INPUT_TOO_LARGE for a title over MAX_TITLE_CHARACTERS.
        """
        super().check_inputs(job)
        clashes = OPTION_CHECKS[job.model.id](job.options)
        if clashes:
            raise invalid_argument(clashes, reason=Reason.INVALID_OPTIONS)
        if _reads_text(job):
            self._check_title(job.inputs[0].text())
            return
        problems = STREAM_CHECKS[job.model.id](job.options, self._probe_inputs(job))
        media = [(name, why) for name, why in problems if name.startswith("inputs")]
        if media:
            raise invalid_argument(media, reason=Reason.UNSUPPORTED_MEDIA)
        if problems:
            raise invalid_argument(problems, reason=Reason.INVALID_OPTIONS)

    @staticmethod
    def _check_title(text: str) -> None:
        if not text.strip():
            raise invalid_argument([("inputs[0].data", "text is empty")])
        if len(text) > MAX_TITLE_CHARACTERS:
            raise invalid_argument(
                [("inputs[0].data", f"text is longer than {MAX_TITLE_CHARACTERS} characters")],
                reason=Reason.INPUT_TOO_LARGE,
            )

    def _remember(self, sha256: str, info: MediaInfo) -> MediaInfo:
        self._probes[sha256] = info
        self._probes.move_to_end(sha256)
        while len(self._probes) > _PROBES_KEPT:
            self._probes.popitem(last=False)
        return info

    def _probe_inputs(self, job: Job) -> list[MediaInfo]:
        """Every input probed (at once, in threads: this blocks the caller), or UNSUPPORTED_MEDIA."""
        if _reads_text(job):
            return []
        paths = [_input_file(job, index) for index in range(len(job.inputs))]
        results: list[MediaInfo | str] = [self._probes.get(asset.sha256, "") for asset in job.inputs]
        unknown = [index for index, known in enumerate(results) if not known]

        def attempt(index: int) -> MediaInfo | str:
            try:
                return probe_sync(paths[index])
            except ProbeError as exc:
                return str(exc)

        if unknown:
            with ThreadPoolExecutor(min(len(unknown), _PROBE_THREADS)) as pool:
                for index, found in zip(unknown, pool.map(attempt, unknown), strict=True):
                    results[index] = found
        failed = [(index, found) for index, found in enumerate(results) if isinstance(found, str)]
        if failed:
            raise _unreadable(failed)
        return [
            self._remember(asset.sha256, found)
            for asset, found in zip(job.inputs, results, strict=True)
            if isinstance(found, MediaInfo)
        ]

    async def _probe_inputs_async(self, job: Job) -> list[MediaInfo]:
        """Every input's probe: remembered from the check, or probed again off the event loop."""
        if _reads_text(job):
            return []
        infos = []
        for index, asset in enumerate(job.inputs):
            known = self._probes.get(asset.sha256)
            if known is None:
                path = await asyncio.to_thread(_input_file, job, index)
                try:
                    known = self._remember(asset.sha256, await probe(path))
                except ProbeError as exc:
                    raise _unreadable([(index, str(exc))]) from None
            infos.append(known)
        return infos

    def _plan(self, job: Job, infos: Sequence[MediaInfo]) -> Plan:
        sources = tuple(
            Source(_file_name(job, _input_file(job, index)), info) for index, info in enumerate(infos)
        )
        text = job.inputs[0].text() if _reads_text(job) else ""
        request = Request(job.options, sources, text=text, font_file=str(FONT_FILE))
        return _PLANNERS[job.model.id](request)

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """Seconds of media to read and write (from the probe and the options), or one image."""
        plan = self._plan(job, self._probe_inputs(job))
        return _usage(job, plan, plan.steps[-1].expected_s)

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Runs the plan's ffmpeg steps with live progress, then streams the file it wrote."""
        infos = await self._probe_inputs_async(job)
        plan = self._plan(job, infos)
        for name, text in plan.files.items():
            await asyncio.to_thread((job.workdir / name).write_text, text, "utf-8")
        yield Progress(fraction=0.0, stage="start", message=f"{len(plan.steps)} ffmpeg run(s) planned")
        position = 0.0
        for step in plan.steps:
            async for event in self._run(job, step, position):
                yield event
            position += step.weight
        output = job.workdir / plan.output
        size = await asyncio.to_thread(lambda: output.stat().st_size if output.exists() else 0)
        if not size:
            raise PrizmError(
                grpc.StatusCode.INVALID_ARGUMENT,
                Reason.UNSUPPORTED_MEDIA,
                "ffmpeg wrote nothing: the input has no frames or samples in the range asked for",
            )
        info = await self._output_info(job, output)
        written_s = info.duration_s if info is not None else None
        yield Output(
            kind=plan.kind, mime_type=plan.mime_type, data=file_chunks(output), metadata=_metadata(info)
        )
        yield Usage(_usage(job, plan, written_s or plan.steps[-1].expected_s))

    async def _run(self, job: Job, step: Step, start: float) -> AsyncIterator[Progress]:
        """Runs one ffmpeg command in the job's folder, its reports turned into progress events.

        Leaving early (cancel) kills ffmpeg's process group before this returns.
        """
        tracker = ProgressTracker(
            step.stage, step.label, step.expected_s, started=time.monotonic(), start=start, weight=step.weight
        )
        parser = ProgressParser()
        try:
            # tool_lines is an async generator typed as an iterator: closing it kills ffmpeg at once
            # even when this generator is itself closed at a yield (the caller went away).
            run = cast("AsyncGenerator[str, None]", tool_lines(step.argv, cwd=job.workdir))
            async with contextlib.aclosing(run) as lines:
                async for line in lines:
                    report = parser.feed(line)
                    progress = None if report is None else tracker.update(report, time.monotonic())
                    if progress is not None:
                        yield progress
        except ToolError as exc:
            complaint = exc.last_line(job.workdir)
            told = exc.stderr.replace(str(job.workdir), "").strip()
            log.warning("job %s: ffmpeg failed %s: %s", job.id, step.label, told)
            raise PrizmError(
                grpc.StatusCode.INVALID_ARGUMENT,
                Reason.UNSUPPORTED_MEDIA,
                f"ffmpeg failed {step.label}: {complaint}",
            ) from None

    @staticmethod
    async def _output_info(job: Job, output: Path) -> MediaInfo | None:
        try:
            return await probe(output)
        except ProbeError as exc:
            log.warning("job %s: cannot probe its own output: %s", job.id, exc)
            return None
