"""Contract cases of the imaging, OCR and espeak providers, one per model."""

from __future__ import annotations

from tests.contract.case import Case

__all__ = ["CASES"]

CASES: dict[str, Case] = {}
