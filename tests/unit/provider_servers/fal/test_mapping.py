"""fal's pure mapping, as tables: arguments, statuses, logs and percentages, results, usage, estimates."""

from __future__ import annotations

import pytest

from prizm_core.enums import Capability, JobState, MediaKind, MediaUnit
from provider_servers.fal.catalog import BUILT_IN, passthrough
from provider_servers.fal.mapping import (
    FalFile,
    FalJobError,
    FalModel,
    arguments,
    estimate,
    mime_type,
    output_files,
    output_text,
    status_of,
    usage,
)

SCHNELL = next(m for m in BUILT_IN if m.spec.id == "fal-ai/flux/schnell")
DEV_I2I = FalModel(SCHNELL.spec, input_field="image_url", output_field="images")
WHISPER = next(m for m in BUILT_IN if m.spec.id == "fal-ai/whisper")
TEXT = [MediaKind.TEXT]


ARGUMENT_CASES: list[tuple[object, ...]] = [
    (
        SCHNELL,
        TEXT,
        ["a kite"],
        [],
        {"width": 512, "height": 256, "seed": 3, "num_outputs": 2},
        {"prompt": "a kite", "image_size": {"width": 512, "height": 256}, "seed": 3, "num_images": 2},
    ),
    (SCHNELL, TEXT, ["a kite"], [], {"format": "png"}, {"prompt": "a kite", "output_format": "png"}),
    (
        DEV_I2I,
        [MediaKind.IMAGE],
        [],
        ["https://v3.fal.media/in.png"],
        {"prompt": "as a sketch", "strength": 0.5},
        {"image_url": "https://v3.fal.media/in.png", "prompt": "as a sketch", "strength": 0.5},
    ),
    (
        WHISPER,
        [MediaKind.AUDIO],
        [],
        ["data:audio/wav;base64,UklGRg=="],
        {"language": "de"},
        {"audio_url": "data:audio/wav;base64,UklGRg==", "language": "de"},
    ),
    # An undeclared endpoint: options as given, unmapped; a file goes to `<kind>_url`.
    (
        passthrough("fal-ai/some/new-model", Capability.IMAGE_TO_VIDEO),
        [MediaKind.IMAGE],
        [],
        ["https://x/y.png"],
        {"width": 640, "motion_bucket_id": 127},
        {"image_url": "https://x/y.png", "width": 640, "motion_bucket_id": 127},
    ),
    # Width and height without a size field travel as two fields; `fields` renames a standard option.
    (
        FalModel(SCHNELL.spec, fields={"duration_s": "duration"}),
        TEXT,
        ["a"],
        [],
        {"width": 8, "height": 16, "duration_s": 5.0},
        {"prompt": "a", "width": 8, "height": 16, "duration": 5.0},
    ),
]


@pytest.mark.parametrize(("model", "job", "expected"), [(c[0], c[1:5], c[5]) for c in ARGUMENT_CASES])
def test_arguments(model: FalModel, job: tuple[object, ...], expected: dict[str, object]) -> None:
    kinds, texts, urls, options = job
    assert arguments(model, kinds, texts, urls, options) == expected  # type: ignore[arg-type]


def _logs(*lines: str) -> list[dict[str, str]]:
    return [{"message": line, "level": "INFO", "timestamp": "2026-01-01T00:00:00Z"} for line in lines]


STATUS_CASES: list[tuple[object, ...]] = [
    ({"status": "IN_QUEUE", "queue_position": 0}, 0, JobState.QUEUED, 1, None, (), False, 0),
    ({"status": "IN_QUEUE", "queue_position": 4}, 0, JobState.QUEUED, 5, None, (), False, 0),
    ({"status": "IN_PROGRESS", "logs": None}, 0, JobState.RUNNING, 0, None, (), False, 0),
    (
        {"status": "IN_PROGRESS", "logs": _logs("Loading")},
        0,
        JobState.RUNNING,
        0,
        None,
        ("Loading",),
        False,
        1,
    ),
    # Only lines after those seen are new; the last percentage among them is the fraction.
    (
        {"status": "IN_PROGRESS", "logs": _logs("Loading", "12%", "Sampling 37.5 %")},
        1,
        JobState.RUNNING,
        0,
        0.375,
        ("12%", "Sampling 37.5 %"),
        False,
        3,
    ),
    (
        {"status": "IN_PROGRESS", "logs": _logs(" 30%|███ | 6/20 [00:01<00:03]")},
        0,
        JobState.RUNNING,
        0,
        0.3,
        (" 30%|███ | 6/20 [00:01<00:03]",),
        False,
        1,
    ),
    (
        {"status": "IN_PROGRESS", "logs": _logs("v1.5 of 2 100 ms")},
        0,
        JobState.RUNNING,
        0,
        None,
        ("v1.5 of 2 100 ms",),
        False,
        1,
    ),
    ({"status": "COMPLETED", "logs": _logs("a", "b")}, 2, JobState.RUNNING, 0, 1.0, (), True, 2),
]


@pytest.mark.parametrize(("data", "seen", "expected"), [(c[0], c[1], c[2:]) for c in STATUS_CASES])
def test_status(data: dict[str, object], seen: int, expected: tuple[object, ...]) -> None:
    status = status_of(data, seen)
    progress = status.progress
    found = (progress.state, progress.queue_position, progress.fraction, progress.logs)
    assert (*found, status.completed, status.logs_seen) == expected


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            {"status": "COMPLETED", "error": "CUDA out of memory", "error_type": "runner_error"},
            "CUDA out of memory",
        ),
        ({"status": "FAILED"}, "request ended FAILED"),
        ({}, "request ended in an unknown state"),
    ],
)
def test_a_failed_request(data: dict[str, object], words: str) -> None:
    with pytest.raises(FalJobError, match=words):
        status_of(data, 0)


IMAGES = {
    "images": [
        {"url": "https://v3.fal.media/a.jpg", "width": 1024, "height": 768, "content_type": "image/jpeg"},
        {"url": "https://v3.fal.media/b.jpg", "width": 1024, "height": 768, "content_type": "image/jpeg"},
    ],
    "timings": {"inference": 0.4},
}


@pytest.mark.parametrize(
    ("model", "result", "expected"),
    [
        (
            SCHNELL,
            IMAGES,
            [
                FalFile("https://v3.fal.media/a.jpg", "image/jpeg", 1024, 768),
                FalFile("https://v3.fal.media/b.jpg", "image/jpeg", 1024, 768),
            ],
        ),
        (
            passthrough("x/y", Capability.TEXT_TO_VIDEO),
            {"video": {"url": "https://v/v.mp4"}},
            [FalFile("https://v/v.mp4")],
        ),
        (
            passthrough("x/y", Capability.TEXT_TO_AUDIO),
            {"audio_url": "https://a/a.wav"},
            [FalFile("https://a/a.wav")],
        ),
        (
            passthrough("x/y", Capability.TEXT_TO_IMAGE),
            {"image": {"url": "data:image/png;base64,AA=="}},
            [FalFile("data:image/png;base64,AA==")],
        ),
        (SCHNELL, {"video": {"url": "https://v/v.mp4"}}, []),  # only the declared field counts
        (passthrough("x/y", Capability.TEXT_TO_IMAGE), {"images": [{"nope": 1}]}, []),
    ],
)
def test_output_files(model: FalModel, result: dict[str, object], expected: list[FalFile]) -> None:
    assert output_files(model, result) == expected


def test_output_text() -> None:
    assert output_text(WHISPER, {"text": "hello there", "chunks": []}) == "hello there"
    assert output_text(passthrough("x/y", Capability.TEXT_TO_TEXT), {"output": "ok"}) == "ok"
    assert output_text(WHISPER, {"output": "ok"}) is None


@pytest.mark.parametrize(
    ("found", "options", "expected"),
    [
        (FalFile("u", "image/webp"), {"format": "png"}, "image/webp"),
        (FalFile("u"), {"format": "png"}, "image/png"),
        (FalFile("u"), {}, "image/jpeg"),
    ],
)
def test_mime_type(found: FalFile, options: dict[str, object], expected: str) -> None:
    assert mime_type(SCHNELL, found, options) == expected  # type: ignore[arg-type]


def test_usage_counts_what_fal_returned_in_the_priced_units() -> None:
    assert usage(SCHNELL, IMAGES, {}) == {MediaUnit.OUTPUT_MEGAPIXEL: pytest.approx(2 * 1024 * 768 / 1e6)}
    assert usage(WHISPER, {"text": "hi", "timings": {"inference": 1.5}}, {}) == {
        MediaUnit.COMPUTE_SECOND: 1.5
    }
    assert usage(passthrough("x/y", Capability.TEXT_TO_IMAGE), IMAGES, {}) == {}


@pytest.mark.parametrize(
    ("model", "options", "expected"),
    [
        (SCHNELL, {"width": 1000, "height": 500, "num_outputs": 3}, {MediaUnit.OUTPUT_MEGAPIXEL: 1.5}),
        (WHISPER, {}, {MediaUnit.COMPUTE_SECOND: 5.0}),
        (passthrough("x/y", Capability.TEXT_TO_IMAGE), {}, {MediaUnit.REQUEST: 1.0}),
    ],
)
def test_estimate(model: FalModel, options: dict[str, object], expected: dict[MediaUnit, float]) -> None:
    assert estimate(model, options) == pytest.approx(expected)  # type: ignore[arg-type]
    assert model.spec.cost(estimate(model, options)) >= 0  # type: ignore[arg-type]


@pytest.mark.parametrize("given", [None, "3", -2, 1.5])
def test_an_odd_queue_position_counts_as_next(given: object) -> None:
    assert status_of({"status": "IN_QUEUE", "queue_position": given}, 0).progress.queue_position == 1
