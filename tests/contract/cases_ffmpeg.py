"""Contract cases of the ffmpeg provider, one per model."""

from __future__ import annotations

from tests.contract.case import Case

__all__ = ["CASES"]

CASES: dict[str, Case] = {}
