"""Checks of a job beyond its schema: options that clash, and options against the probed media.

Pure: each check returns `(field, problem)` pairs, empty when the job is fine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from provider_servers.ffmpeg.commands import AUDIO_FORMATS, CONTAINERS, video_codec
from provider_servers.ffmpeg.models import COLOR_NAMES
from provider_servers.ffmpeg.probe import MediaInfo
from provider_servers.sdk import OptionValue

__all__ = ["OPTION_CHECKS", "STREAM_CHECKS", "Violations"]

Violations = list[tuple[str, str]]
Options = Mapping[str, OptionValue]
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _sample_rate(options: Options) -> Violations:
    audio = AUDIO_FORMATS[str(options["format"])]
    rate = options.get("sample_rate")
    if rate is None or not audio.rates or rate in audio.rates:
        return []
    rates = ", ".join(str(r) for r in audio.rates)
    return [("options.sample_rate", f"{options['format']} takes one of {rates} Hz")]


def _transcode_options(options: Options) -> Violations:
    codec, container = video_codec(options), CONTAINERS[str(options["format"])]
    found: Violations = []
    if codec != "copy" and codec not in container.video_codecs:
        takes = ", ".join([*container.video_codecs, "copy"])
        found.append(("options.video_codec", f"{options['format']} takes {takes}"))
    if codec == "copy" and ("width" in options or "height" in options):
        found.append(("options.video_codec", "copy cannot scale; leave out width and height, or re-encode"))
    return found


def _color(options: Options, name: str) -> Violations:
    value = str(options[name])
    if value.lower() in COLOR_NAMES or _HEX_COLOR.fullmatch(value):
        return []
    return [(f"options.{name}", f"must be #RRGGBB or one of {', '.join(COLOR_NAMES)}")]


def _title_options(options: Options) -> Violations:
    return _color(options, "text_color") + _color(options, "background_color")


def _no_clash(options: Options) -> Violations:
    del options
    return []


OPTION_CHECKS: Mapping[str, Callable[[Options], Violations]] = {
    "extract-audio": _sample_rate,
    "convert-audio": _sample_rate,
    "transcode": _transcode_options,
    "frames": _no_clash,
    "slideshow": _no_clash,
    "title-card": _title_options,
}
"""Checks of options against each other, by model id: no media needed."""


def _needs_audio(infos: Sequence[MediaInfo]) -> Violations:
    return [] if infos[0].audio is not None else [("inputs[0].data", "has no audio stream")]


def _needs_video(infos: Sequence[MediaInfo]) -> Violations:
    if infos[0].video is None or infos[0].is_still:
        return [("inputs[0].data", "has no video stream")]
    return []


def _starts_inside(options: Options, info: MediaInfo, name: str = "start_s") -> Violations:
    start = float(options.get(name, 0.0))
    if info.duration_s is not None and start > 0 and start >= info.duration_s:
        return [(f"options.{name}", f"is past the end of the input ({info.duration_s:.3f} s)")]
    return []


def _convert_audio_media(options: Options, infos: Sequence[MediaInfo]) -> Violations:
    return _needs_audio(infos) or _starts_inside(options, infos[0])


def _transcode_media(options: Options, infos: Sequence[MediaInfo]) -> Violations:
    found = _needs_video(infos)
    if found:
        return found
    video, container = infos[0].video, CONTAINERS[str(options["format"])]
    assert video is not None  # noqa: S101 - _needs_video said so
    if (
        video_codec(options) == "copy"
        and container.copies_video
        and video.codec not in container.copies_video
    ):
        found.append(
            ("options.video_codec", f"a {video.codec} stream cannot be copied into {options['format']}")
        )
    return found + _starts_inside(options, infos[0])


def _frames_media(options: Options, infos: Sequence[MediaInfo]) -> Violations:
    found = _needs_video(infos)
    if found:
        return found
    if options["mode"] == "contact_sheet":
        if infos[0].duration_s is None:
            return [("inputs[0].data", "has no known duration to spread a contact sheet over")]
        return []
    at = float(options["at_s"])
    duration = infos[0].duration_s
    if duration is not None and at >= duration and at > 0:
        return [("options.at_s", f"is past the end of the video ({duration:.3f} s)")]
    return []


def _slideshow_media(options: Options, infos: Sequence[MediaInfo]) -> Violations:
    found = [
        (f"inputs[{i}].data", "is not a still image") for i, info in enumerate(infos) if not info.is_still
    ]
    shortest = len(infos) / float(options["fps"])
    if not found and float(options["duration_s"]) < shortest:
        found.append(("options.duration_s", f"must give each image a frame at least: {shortest:g} s or more"))
    return found


STREAM_CHECKS: Mapping[str, Callable[[Options, Sequence[MediaInfo]], Violations]] = {
    "extract-audio": lambda options, infos: _needs_audio(infos),
    "convert-audio": _convert_audio_media,
    "transcode": _transcode_media,
    "frames": _frames_media,
    "slideshow": _slideshow_media,
}
"""Checks of the probed inputs (and options against them), by model id; text models have none."""
