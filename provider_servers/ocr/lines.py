"""Recognized lines: kept by confidence, joined into the transcript, summarized for metadata."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Line", "batches", "confident", "summary", "transcript"]


@dataclass(frozen=True)
class Line:
    """One recognized line of text.

    Attributes:
        text: What it says.
        score: The recognizer's confidence, 0 to 1.
    """

    text: str
    score: float


def confident(lines: Sequence[Line], min_confidence: float) -> list[Line]:
    """The lines with text and a score of at least `min_confidence`, in order."""
    return [line for line in lines if line.text.strip() and line.score >= min_confidence]


def transcript(lines: Sequence[Line]) -> str:
    """The lines' text, one per line, without surrounding blanks."""
    return "\n".join(line.text.strip() for line in lines)


def summary(lines: Sequence[Line]) -> dict[str, str]:
    """Output metadata: how many lines, and their mean confidence (0 when there are none)."""
    mean = sum(line.score for line in lines) / len(lines) if lines else 0.0
    return {"lines": str(len(lines)), "mean_confidence": f"{mean:.3f}"}


def batches(count: int, size: int) -> Iterator[range]:
    """Consecutive index ranges of at most `size` covering `count` items."""
    for start in range(0, count, max(1, size)):
        yield range(start, min(start + max(1, size), count))
