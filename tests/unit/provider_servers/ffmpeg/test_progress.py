"""ffmpeg's -progress blocks read into reports, and reports into throttled job progress."""

from __future__ import annotations

import pytest

from provider_servers.ffmpeg.progress import ProgressParser, ProgressTracker, Report, parse_clock

# A block as ffmpeg 5.1 writes it for a video output (note out_time_ms: microseconds too).
VIDEO_BLOCK = """frame=50
fps=0.00
stream_0_0_q=28.0
bitrate= 187.3kbits/s
total_size=48
out_time_us=2040000
out_time_ms=2040000
out_time=00:00:02.040000
dup_frames=0
drop_frames=0
speed=4.08x
progress=continue"""


def _feed(text: str) -> list[Report]:
    parser = ProgressParser()
    return [report for line in text.splitlines() if (report := parser.feed(line)) is not None]


def test_a_block_becomes_one_report_at_its_progress_line() -> None:
    assert _feed(VIDEO_BLOCK) == [Report(out_time_s=2.04, frame=50, speed=4.08, done=False)]


def test_blocks_do_not_leak_into_each_other_and_the_end_is_marked() -> None:
    reports = _feed(VIDEO_BLOCK + "\nout_time_us=3000000\nspeed=N/A\nprogress=end")
    assert reports[1] == Report(out_time_s=3.0, frame=None, speed=None, done=True)


@pytest.mark.parametrize(
    ("fields", "seconds"),
    [
        ({"out_time_us": "1500000", "out_time_ms": "1500", "out_time": "00:00:09.000000"}, 1.5),
        ({"out_time_us": "N/A", "out_time": "00:01:02.500000"}, 62.5),
        # ffmpeg 5.1 prints microseconds under out_time_ms: read as such.
        ({"out_time_ms": "2500000"}, 2.5),
        ({"out_time_us": "-9223372036854775807", "out_time": "-577014:32:22.775808"}, None),
        ({"out_time_us": "N/A", "out_time": "N/A", "out_time_ms": "N/A"}, None),
        ({}, None),
    ],
)
def test_out_time_comes_from_the_most_trustworthy_key(fields: dict[str, str], seconds: float | None) -> None:
    text = "\n".join(f"{key}={value}" for key, value in fields.items()) + "\nprogress=continue"
    (report,) = _feed(text)
    assert report.out_time_s == seconds


@pytest.mark.parametrize(
    ("speed", "parsed"), [("4.08x", 4.08), ("1.54e+03x", 1540.0), (" 0.5x", 0.5), ("N/A", None), ("0x", None)]
)
def test_speed(speed: str, parsed: float | None) -> None:
    (report,) = _feed(f"speed={speed}\nprogress=continue")
    assert report.speed == parsed


@pytest.mark.parametrize(
    ("clock", "seconds"),
    [
        ("00:00:02.040000", 2.04),
        ("01:02:03.5", 3723.5),
        ("N/A", None),
        ("-00:00:01.000000", None),
        ("12.5", None),
    ],
)
def test_parse_clock(clock: str, seconds: float | None) -> None:
    assert parse_clock(clock) == seconds


def test_lines_without_equals_are_ignored() -> None:
    assert _feed("garbage\n\nprogress=continue") == [Report()]


def _tracker(start: float = 0.0, weight: float = 1.0) -> ProgressTracker:
    return ProgressTracker(
        "encode", "encoding", 10.0, started=100.0, start=start, weight=weight, interval_s=0.25
    )


@pytest.mark.parametrize(
    ("out_time", "start", "weight", "fraction"),
    [
        (2.5, 0.0, 1.0, 0.25),
        (10.0, 0.0, 1.0, 1.0),
        (12.0, 0.0, 1.0, 1.0),  # a little past the estimate stays at the end
        (5.0, 0.0, 0.9, 0.45),
        (5.0, 0.9, 0.1, 0.95),
    ],
)
def test_fraction_is_out_time_over_the_expected_length_within_the_runs_span(
    out_time: float, start: float, weight: float, fraction: float
) -> None:
    progress = _tracker(start=start, weight=weight).update(Report(out_time_s=out_time), now=101.0)
    assert progress is not None and progress.fraction == pytest.approx(fraction)
    assert progress.stage == "encode"


def test_events_are_throttled_but_the_last_always_goes_out() -> None:
    tracker = _tracker()
    sent = [
        tracker.update(Report(out_time_s=t), now=100.0 + t / 10)
        for t in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)  # a report every 0.1 s
    ]
    assert [p is not None for p in sent] == [True, False, False, True, False, False]
    assert tracker.update(Report(out_time_s=6.1, done=True), now=100.61) is not None


def test_eta_from_the_pace_so_far_and_a_readable_message() -> None:
    progress = _tracker().update(Report(out_time_s=2.5, speed=5.0), now=101.0)
    assert progress is not None
    assert progress.eta_s == pytest.approx(3.0)  # a quarter took 1 s
    assert progress.message == "encoding: 25% (2.5 of 10.0 s, 5x)"


def test_without_an_expected_length_there_is_no_fraction_until_done() -> None:
    tracker = ProgressTracker("tile", "tiling", None, started=0.0, start=0.9, weight=0.1)
    running = tracker.update(Report(out_time_s=0.0), now=1.0)
    assert running is not None and running.fraction is None and running.eta_s is None
    done = tracker.update(Report(out_time_s=1.0, done=True), now=1.1)
    assert done is not None and done.fraction == pytest.approx(1.0)
    assert done.message == "tiling: done"


def test_no_eta_before_a_measurable_share_is_done() -> None:
    progress = _tracker().update(Report(out_time_s=0.1), now=100.5)
    assert progress is not None and progress.fraction == pytest.approx(0.01) and progress.eta_s is None
