"""ffmpeg's `-progress` reports read into fractions of a job, throttled, with a message and an ETA."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from provider_servers.sdk import Progress

__all__ = ["ProgressParser", "ProgressTracker", "Report", "parse_clock"]

# Most progress events per second a job sends: ffmpeg reports every stats period (0.2 s here).
MIN_INTERVAL_S = 0.25
# Below this fraction an ETA from the pace so far is mostly noise.
_ETA_FROM = 0.02


@dataclass(frozen=True)
class Report:
    """One block of ffmpeg's `-progress` output.

    Attributes:
        out_time_s: Media time written so far, in seconds; None when not known yet.
        frame: Video frames written so far, when ffmpeg writes video.
        speed: Media seconds per wall second, e.g. 12.5 for "12.5x".
        done: Whether this is the last block (`progress=end`).
    """

    out_time_s: float | None = None
    frame: int | None = None
    speed: float | None = None
    done: bool = False


def parse_clock(value: str) -> float | None:
    """Seconds from ffmpeg's `HH:MM:SS.micro` clock; None for `N/A` or a negative time."""
    parts = value.strip().split(":")
    if len(parts) != 3 or value.strip().startswith("-"):
        return None
    try:
        hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    return hours * 3600 + minutes * 60 + seconds


def _microseconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number / 1e6 if number >= 0 else None


def _out_time(fields: Mapping[str, str]) -> float | None:
    """The media time written, from the most trustworthy key present.

    `out_time_us` first; then the `out_time` clock; `out_time_ms` last and read as
    microseconds, because up to ffmpeg 6 it holds microseconds despite its name.
    """
    found = _microseconds(fields.get("out_time_us"))
    if found is None and "out_time" in fields:
        found = parse_clock(fields["out_time"])
    if found is None:
        found = _microseconds(fields.get("out_time_ms"))
    return found


def _speed(value: str | None) -> float | None:
    try:
        speed = float((value or "").strip().removesuffix("x"))
    except ValueError:
        return None
    return speed if speed > 0 else None


def _frame(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


class ProgressParser:
    """Collects `key=value` lines and hands back a Report at each `progress=` line."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> Report | None:
        """Takes one line of `-progress` output; returns a Report when a block ends."""
        key, equals, value = line.partition("=")
        if not equals:
            return None
        key, value = key.strip(), value.strip()
        if key != "progress":
            self._fields[key] = value
            return None
        fields, self._fields = self._fields, {}
        return Report(
            out_time_s=_out_time(fields),
            frame=_frame(fields.get("frame")),
            speed=_speed(fields.get("speed")),
            done=value == "end",
        )


@dataclass(frozen=True)
class _Span:
    """Where one ffmpeg run sits in the job's progress: from `start`, `weight` of the whole."""

    start: float
    weight: float


class ProgressTracker:
    """Turns the Reports of one ffmpeg run into job Progress events, a few a second at most.

    Args:
        stage: Stage name for the events, e.g. `encode`.
        label: What is being done, for the message, e.g. `extracting audio`.
        expected_s: Media seconds the run will write; None when not known (no fraction then).
        started: Monotonic time the run started.
        start: Job fraction at which this run starts.
        weight: Share of the job this run is.
        interval_s: Least time between two events.
    """

    def __init__(
        self,
        stage: str,
        label: str,
        expected_s: float | None,
        *,
        started: float,
        start: float = 0.0,
        weight: float = 1.0,
        interval_s: float = MIN_INTERVAL_S,
    ) -> None:
        self.stage = stage
        self.label = label
        self.expected_s = expected_s if expected_s and expected_s > 0 else None
        self.started = started
        self.span = _Span(start, weight)
        self.interval_s = interval_s
        self._last_sent: float | None = None

    def run_fraction(self, report: Report) -> float | None:
        """How far this run is, 0 to 1; None when the expected length or the time is unknown."""
        if report.done:
            return 1.0
        if self.expected_s is None or report.out_time_s is None:
            return None
        return min(report.out_time_s / self.expected_s, 1.0)

    def update(self, report: Report, now: float) -> Progress | None:
        """The event for `report`, or None when one went out less than `interval_s` ago.

        The last report (`done`) always gets an event.
        """
        if not report.done and self._last_sent is not None and now - self._last_sent < self.interval_s:
            return None
        self._last_sent = now
        run = self.run_fraction(report)
        eta = None
        if run is not None and run >= _ETA_FROM:
            eta = (now - self.started) * (1.0 - run) / run
        return Progress(
            fraction=None if run is None else self.span.start + self.span.weight * run,
            stage=self.stage,
            message=self._message(report, run),
            eta_s=eta,
        )

    def _message(self, report: Report, run: float | None) -> str:
        """E.g. `extracting audio: 42% (12.6 of 30.0 s, 35.2x)`."""
        if report.done:
            return f"{self.label}: done"
        details = []
        if report.out_time_s is not None:
            total = f" of {self.expected_s:.1f}" if self.expected_s is not None else ""
            details.append(f"{report.out_time_s:.1f}{total} s")
        if report.speed is not None:
            details.append(f"{report.speed:.3g}x")
        head = self.label if run is None else f"{self.label}: {run:.0%}"
        return f"{head} ({', '.join(details)})" if details else head
