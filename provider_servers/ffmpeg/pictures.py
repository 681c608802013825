"""ffmpeg command lines for the picture models: frames and contact sheets, slideshows, title cards.

Pure, like `commands`: files are named relative to the job's folder.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from provider_servers.ffmpeg.commands import (
    BASE,
    BITEXACT,
    Plan,
    Request,
    Step,
    escape_filter_value,
    even,
    seconds,
    video_encoder,
)
from provider_servers.sdk import MediaKind, OptionValue

__all__ = [
    "IMAGE_FORMATS",
    "MIN_FONT_SIZE",
    "TEXT_FILE",
    "THUMBNAILS",
    "VIDEO_FORMATS",
    "fit_size",
    "fit_title",
    "frames",
    "slideshow",
    "title_card",
    "wrap_title",
]

# Biggest video a slideshow takes its size from an image for; larger images are fitted inside.
MAX_AUTO_SIZE = (3840, 2160)
# The title card's text, in the job's folder (drawtext reads it: no escaping of the text needed).
TEXT_FILE = "title.txt"
# Contact sheet thumbnails, numbered from 1, in the job's folder.
THUMBNAILS = "thumb-%03d.png"
# Share of a contact sheet's progress that is sampling frames; tiling them is the rest.
_SAMPLING_WEIGHT = 0.9
# Average advance of a DejaVu Sans character, in ems, for wrapping a title to the width.
_CHARACTER_EMS = 0.6
_TITLE_MARGIN = 0.9  # share of the width (and height) a title may take
MIN_FONT_SIZE = 8

# (encoder options, file extension, MIME type)
IMAGE_FORMATS = {
    "png": (("-c:v", "png"), "png", "image/png"),
    "jpeg": (("-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuvj420p"), "jpg", "image/jpeg"),
}
# (codec, muxer options, file extension, MIME type)
VIDEO_FORMATS = {
    "mp4": ("h264", ("-f", "mp4", "-movflags", "+faststart"), "mp4", "video/mp4"),
    "webm": ("vp9", ("-f", "webm", *BITEXACT), "webm", "video/webm"),
}


def _one_image(options: Mapping[str, OptionValue]) -> tuple[tuple[str, ...], str, str]:
    encoder, extension, mime = IMAGE_FORMATS[str(options["format"])]
    return (*encoder, "-f", "image2", "-update", "1"), f"output.{extension}", mime


def _frame(request: Request) -> Plan:
    (source,) = request.sources
    image, output, mime = _one_image(request.options)
    at = float(request.options["at_s"])
    duration, video = source.info.duration_s, source.info.video
    if duration is not None and video is not None:
        # A seek past the last frame writes nothing: stay one frame short of the end.
        at = min(at, max(duration - 1.0 / (video.fps or 25.0), 0.0))
    argv = (*BASE, "-ss", seconds(at), "-i", source.name, "-map", "0:v:0", "-frames:v", "1", *image, output)
    return Plan((Step(argv, "frame", "extracting a frame", None),), output, MediaKind.IMAGE, mime)


def _contact_sheet(request: Request) -> Plan:
    (source,) = request.sources
    options = request.options
    columns, rows = int(options["columns"]), int(options["rows"])
    count, duration = columns * rows, source.info.duration_s
    assert duration is not None  # noqa: S101 - checked before planning
    interval = duration / count
    # One frame from the middle of each of `count` equal intervals: start half an interval in,
    # then `count` frames per `duration` seconds. Written as files, the sampled frames' media time
    # follows the input's, so progress is real.
    sample = (
        *BASE,
        "-ss",
        seconds(interval / 2),
        "-i",
        source.name,
        *("-map", "0:v:0", "-vf", f"fps={count}/{seconds(duration)},scale={int(options['tile_width'])}:-2"),
        *("-frames:v", str(count), "-c:v", "png", "-f", "image2", THUMBNAILS),
    )
    image, output, mime = _one_image(options)
    tile = (
        *BASE,
        *("-framerate", "1", "-i", THUMBNAILS),
        *("-vf", f"tile={columns}x{rows}:padding=4:margin=4", "-frames:v", "1", *image, output),
    )
    steps = (
        Step(sample, "sample", f"sampling {count} frames", duration, _SAMPLING_WEIGHT),
        Step(tile, "tile", "tiling the contact sheet", None, 1.0 - _SAMPLING_WEIGHT),
    )
    return Plan(steps, output, MediaKind.IMAGE, mime)


def frames(request: Request) -> Plan:
    """One frame at `at_s`, or a contact sheet of `columns` x `rows` frames across the video."""
    if request.options["mode"] == "contact_sheet":
        return _contact_sheet(request)
    return _frame(request)


def fit_size(width: int | None, height: int | None, image_width: int, image_height: int) -> tuple[int, int]:
    """A slideshow's even size: as asked, one side from the image's aspect, or the image's own.

    Args:
        width: Width asked for, if any.
        height: Height asked for, if any.
        image_width: Width of the first image.
        image_height: Height of the first image.
    """
    if width is not None and height is not None:
        return even(width), even(height)
    if width is not None:
        return even(width), even(width * image_height / image_width)
    if height is not None:
        return even(height * image_width / image_height), even(height)
    shrink = min(1.0, MAX_AUTO_SIZE[0] / image_width, MAX_AUTO_SIZE[1] / image_height)
    return even(image_width * shrink), even(image_height * shrink)


def _optional_int(options: Mapping[str, OptionValue], name: str) -> int | None:
    return int(options[name]) if name in options else None


def slideshow(request: Request) -> Plan:
    """Each image held for an equal share of `duration_s`, letterboxed to one size, concatenated."""
    options = request.options
    first = request.sources[0].info.video
    assert first is not None  # noqa: S101 - checked before planning
    width, height = fit_size(
        _optional_int(options, "width"), _optional_int(options, "height"), first.width, first.height
    )
    fps, total = int(options["fps"]), float(options["duration_s"])
    share = seconds(total / len(request.sources))
    inputs: list[str] = []
    chains: list[str] = []
    for index, source in enumerate(request.sources):
        inputs += ["-loop", "1", "-framerate", str(fps), "-t", share, "-i", source.name]
        chains.append(
            f"[{index}:v]scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p[v{index}]"
        )
    labels = "".join(f"[v{index}]" for index in range(len(request.sources)))
    graph = ";".join([*chains, f"{labels}concat=n={len(request.sources)}:v=1:a=0[video]"])
    codec, muxer, extension, mime = VIDEO_FORMATS[str(options["format"])]
    output = f"output.{extension}"
    argv = (
        *BASE,
        *inputs,
        *("-filter_complex", graph, "-map", "[video]", "-r", str(fps)),
        *(*video_encoder(codec), "-t", seconds(total), *muxer, output),
    )
    label = "encoding a still" if len(request.sources) == 1 else f"encoding {len(request.sources)} slides"
    return Plan((Step(argv, "encode", label, total),), output, MediaKind.VIDEO, mime)


def wrap_title(text: str, width: int, font_size: int) -> str:
    """`text` wrapped to lines that fit `width` pixels at `font_size`, its own line breaks kept."""
    per_line = max(1, int(width * _TITLE_MARGIN / (font_size * _CHARACTER_EMS)))
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4).split("\n"):
        lines.extend(textwrap.wrap(paragraph, per_line) or [""])
    return "\n".join(lines).strip("\n")


def fit_title(text: str, width: int, height: int, font_size: int) -> tuple[str, int]:
    """`text` wrapped, at `font_size` or smaller until its lines fit `height` (down to MIN_FONT_SIZE)."""
    size = font_size
    while True:
        wrapped = wrap_title(text, width, size)
        lines = wrapped.count("\n") + 1
        if (
            lines * size + (lines - 1) * _line_spacing(size) <= height * _TITLE_MARGIN
            or size <= MIN_FONT_SIZE
        ):
            return wrapped, size
        size = max(MIN_FONT_SIZE, size * 9 // 10)


def _line_spacing(font_size: int) -> int:
    return font_size // 4


def _color(value: OptionValue) -> str:
    return escape_filter_value(str(value))


def title_card(request: Request) -> Plan:
    """The text, wrapped and shrunk to fit, centered on a plain background for `duration_s`."""
    options = request.options
    width, height = even(float(options["width"])), even(float(options["height"]))
    fps, total = int(options["fps"]), float(options["duration_s"])
    text, size = fit_title(request.text, width, height, int(options["font_size"]))
    background = (
        f"color=c={_color(options['background_color'])}:s={width}x{height}:r={fps}:d={seconds(total)}"
    )
    draw = ":".join(
        [
            f"drawtext=fontfile={escape_filter_value(request.font_file)}",
            f"textfile={TEXT_FILE}",
            "expansion=none",
            f"fontsize={size}",
            f"fontcolor={_color(options['text_color'])}",
            f"line_spacing={_line_spacing(size)}",
            "x=(w-text_w)/2",
            "y=(h-text_h)/2",
        ]
    )
    codec, muxer, extension, mime = VIDEO_FORMATS[str(options["format"])]
    output = f"output.{extension}"
    argv = (
        *BASE,
        *("-f", "lavfi", "-i", background),
        *("-vf", draw, *video_encoder(codec), *muxer, output),
    )
    step = Step(argv, "encode", "rendering the title card", total)
    return Plan((step,), output, MediaKind.VIDEO, mime, files={TEXT_FILE: text})
