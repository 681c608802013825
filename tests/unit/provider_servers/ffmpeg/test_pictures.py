"""Command lines of the picture models: frames, contact sheets, slideshows and title cards."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prizm.v1 import media_pb2 as media_pb

from provider_servers.ffmpeg.commands import Plan, Request, Source
from provider_servers.ffmpeg.models import FRAMES, SLIDESHOW, TITLE_CARD
from provider_servers.ffmpeg.pictures import (
    MIN_FONT_SIZE,
    TEXT_FILE,
    THUMBNAILS,
    fit_size,
    fit_title,
    frames,
    slideshow,
    title_card,
    wrap_title,
)
from provider_servers.ffmpeg.probe import MediaInfo, VideoStream
from provider_servers.sdk import ModelSpec
from provider_servers.sdk.options import resolve_options

CLIP = MediaInfo("mov,mp4,m4a,3gp,3g2,mj2", 12.0, VideoStream("h264", 640, 360, 25.0), None)
PNG = MediaInfo("png_pipe", None, VideoStream("png", 800, 600), None)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _options(model: ModelSpec, **given: object) -> dict[str, object]:
    return dict(resolve_options(model.parameters, given))


def _after(argv: Sequence[str], flag: str) -> str | None:
    spots = [index for index, arg in enumerate(argv) if arg == flag]
    return argv[spots[-1] + 1] if spots else None


def _frames(**given: object) -> Plan:
    return frames(Request(resolve_options(FRAMES.parameters, given), (Source("source-0", CLIP),)))


@pytest.mark.parametrize(("at_s", "seek"), [(0.0, "0"), (4.5, "4.5"), (11.99, "11.96")])
def test_a_frame_is_seeked_to_but_never_past_the_last_frame(at_s: float, seek: str) -> None:
    plan = _frames(at_s=at_s)
    (step,) = plan.steps
    assert step.argv[step.argv.index("-i") - 2 :][:3] == ("-ss", seek, "-i")
    assert _after(step.argv, "-frames:v") == "1" and "-update" in step.argv
    assert (plan.output, plan.mime_type, plan.kind) == ("output.png", "image/png", media_pb.MEDIA_KIND_IMAGE)


def test_a_jpeg_frame() -> None:
    plan = _frames(format="jpeg")
    assert (_after(plan.steps[0].argv, "-c:v"), plan.output, plan.mime_type) == (
        "mjpeg",
        "output.jpg",
        "image/jpeg",
    )


def test_a_contact_sheet_samples_the_middle_of_equal_intervals_then_tiles_them() -> None:
    plan = _frames(mode="contact_sheet", columns=4, rows=3, tile_width=200)
    sample, tile = plan.steps
    # 12 frames over 12 s: one a second, starting half a second in.
    assert _after(sample.argv, "-ss") == "0.5"
    assert _after(sample.argv, "-vf") == "fps=12/12,scale=200:-2"
    assert (_after(sample.argv, "-frames:v"), sample.argv[-1]) == ("12", THUMBNAILS)
    assert (sample.expected_s, sample.weight) == (12.0, 0.9)
    assert _after(tile.argv, "-i") == THUMBNAILS
    assert _after(tile.argv, "-vf") == "tile=4x3:padding=4:margin=4"
    assert tile.expected_s is None and tile.argv[-1] == "output.png"
    assert tile.weight == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [
        (None, None, (800, 600)),
        (641, None, (640, 480)),
        (None, 301, (400, 300)),
        (333, 100, (332, 100)),
    ],
)
def test_fit_size(width: int | None, height: int | None, size: tuple[int, int]) -> None:
    assert fit_size(width, height, 800, 600) == size


@pytest.mark.parametrize(
    ("image", "size"), [((7680, 4320), (3840, 2160)), ((1001, 5000), (432, 2160)), ((3, 3), (2, 2))]
)
def test_big_images_fit_within_4k_and_sizes_stay_even(image: tuple[int, int], size: tuple[int, int]) -> None:
    assert fit_size(None, None, *image) == size


def _slides(count: int, **given: object) -> Plan:
    sources = tuple(Source(f"source-{index}", PNG) for index in range(count))
    return slideshow(Request(resolve_options(SLIDESHOW.parameters, given), sources))


def test_a_still_is_held_for_the_whole_duration() -> None:
    plan = _slides(1, duration_s=4.0, fps=10)
    (step,) = plan.steps
    assert step.argv[step.argv.index("-loop") :][:8] == (
        "-loop",
        "1",
        "-framerate",
        "10",
        "-t",
        "4",
        "-i",
        "source-0",
    )
    assert _after(step.argv, "-t") == "4" and step.expected_s == 4.0
    assert (_after(step.argv, "-c:v"), plan.mime_type) == ("libx264", "video/mp4")


def test_slides_share_the_duration_and_are_letterboxed_to_one_size() -> None:
    plan = _slides(3, duration_s=6.0, width=640, height=360, format="webm")
    argv = plan.steps[0].argv
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "-i"] == ["source-0", "source-1", "source-2"]
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "-t"] == ["2", "2", "2", "6"]
    graph = _after(argv, "-filter_complex") or ""
    assert graph.count("scale=640:360:force_original_aspect_ratio=decrease,pad=640:360") == 3
    assert graph.endswith("[v0][v1][v2]concat=n=3:v=1:a=0[video]")
    assert (_after(argv, "-c:v"), plan.output, plan.mime_type) == ("libvpx-vp9", "output.webm", "video/webm")


def test_wrap_title_keeps_line_breaks_and_wraps_long_lines() -> None:
    # 1000 px at 50 px: 30 characters a line.
    text = "A short first line\n" + "word " * 20
    lines = wrap_title(text, 1000, 50).split("\n")
    assert lines[0] == "A short first line"
    assert all(len(line) <= 30 for line in lines) and len(lines) == 5


@pytest.mark.parametrize(
    ("text", "height", "size"),
    # 200 words at 72, 64, ... 32 px take more than 90% of 720 px; at 28 px, 16 lines of 13 fit.
    [("Title", 720, 72), ("word " * 200, 720, 28), ("word " * 1000, 64, MIN_FONT_SIZE)],
)
def test_fit_title_shrinks_the_font_until_the_text_fits(text: str, height: int, size: int) -> None:
    wrapped, chosen = fit_title(text, 1280, height, 72)
    assert chosen == size
    assert wrapped.split() == text.split()


def test_a_title_card_draws_its_text_file_in_the_font_centered() -> None:
    options = resolve_options(
        TITLE_CARD.parameters,
        {"width": 321, "height": 181, "text_color": "#ff8800", "duration_s": 2.5, "font_size": 16},
    )
    plan = title_card(Request(options, text="Hello: it's 100%", font_file=FONT))
    (step,) = plan.steps
    assert _after(step.argv, "-f") == "mp4"
    assert step.argv[step.argv.index("lavfi") + 2] == "color=c=black:s=320x180:r=25:d=2.5"
    draw = _after(step.argv, "-vf") or ""
    assert draw.startswith(f"drawtext=fontfile={FONT}:textfile={TEXT_FILE}:expansion=none:")
    assert "fontcolor=#ff8800" in draw and "x=(w-text_w)/2:y=(h-text_h)/2" in draw
    # The text goes to a file, never into the filter graph: nothing of it needs escaping.
    assert "Hello" not in " ".join(step.argv)
    assert plan.files == {TEXT_FILE: "Hello: it's 100%"}
    assert step.expected_s == 2.5


def test_a_title_card_font_size_is_the_fitted_one() -> None:
    options = resolve_options(TITLE_CARD.parameters, {"width": 640, "height": 64, "font_size": 200})
    plan = title_card(Request(options, text="A long title that cannot fit in one line", font_file=FONT))
    draw = _after(plan.steps[0].argv, "-vf") or ""
    size = int(draw.split("fontsize=")[1].split(":")[0])
    assert MIN_FONT_SIZE <= size < 200
