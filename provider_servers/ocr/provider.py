"""OCR: printed text out of images with RapidOCR (PP-OCRv4 on ONNX Runtime, models in its wheel)."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from provider_servers.imaging.codec import MAX_PIXELS, decode, probe
from provider_servers.ocr.engine import OcrEngine, to_bgr, warm_up_image
from provider_servers.ocr.lines import Line, batches, confident, summary, transcript
from provider_servers.sdk import (
    Capability,
    Event,
    InputAsset,
    Job,
    MediaKind,
    ModelSpec,
    Output,
    Param,
    Progress,
    Provider,
    ProviderKind,
)

__all__ = ["MODEL", "OcrProvider"]

log = logging.getLogger(__name__)

# Share of a job's progress that detection takes; recognition, batch by batch, takes the rest.
_DECODED = 0.05
_DETECTED = 0.3

MODEL = ModelSpec(
    id="rapidocr-ppocrv4",
    display_name="RapidOCR PP-OCRv4 (Chinese and English printed text)",
    description=(
        "Optical character recognition with RapidOCR: PaddleOCR's PP-OCRv4 text detection and "
        "recognition models (shipped in the rapidocr-onnxruntime wheel) on ONNX Runtime, on the CPU. "
        "Reads printed Chinese and English; handwriting and other scripts come out poorly. PNG, JPEG, "
        f"WebP, GIF or BMP in, up to {MAX_PIXELS // 1_000_000} megapixels; the lines found, top to "
        "bottom, out as UTF-8 text."
    ),
    capabilities=(Capability.IMAGE_TO_TEXT,),
    parameters=(
        Param(
            "min_confidence",
            "number",
            "Drop lines the recognizer is less sure of than this.",
            default=0.5,
            minimum=0.0,
            maximum=1.0,
        ),
    ),
    input_mime_types=("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/x-ms-bmp"),
    output_mime_type="text/plain; charset=utf-8",
)


def _version() -> str:
    try:
        return version("rapidocr-onnxruntime")
    except PackageNotFoundError:
        return "not installed"


def _source(asset: InputAsset) -> bytes | Path:
    """The input's file when it came by reference, else its bytes."""
    return asset.path if asset.path is not None else asset.read()


class OcrProvider(Provider):
    """Image to text, detecting the text regions first and then recognizing them a batch at a time."""

    id = "ocr"
    display_name = "OCR (RapidOCR)"
    kind = ProviderKind.LOCAL
    version = _version()
    description = (
        "Local optical character recognition (RapidOCR, ONNX Runtime on the CPU). No key, no network."
    )
    max_concurrent_jobs = 4

    def __init__(self) -> None:
        self._engine: OcrEngine | None = None

    @classmethod
    def missing(cls) -> list[str]:
        """rapidocr-onnxruntime, when it cannot be imported."""
        try:
            importlib.import_module("rapidocr_onnxruntime")
        except ImportError:
            return ["rapidocr-onnxruntime (pip install 'prizm[ocr]')"]
        return []

    def models(self) -> Sequence[ModelSpec]:
        """The one recognizer."""
        return [MODEL]

    async def warm_up(self) -> None:
        """Loads the models and reads a tiny image once, so the first job pays no start-up cost."""
        engine = await asyncio.to_thread(OcrEngine.load)
        bgr = to_bgr(warm_up_image())
        crops = await asyncio.to_thread(engine.detect, bgr)
        await asyncio.to_thread(engine.recognize, crops or [bgr])
        self._engine = engine
        log.info("RapidOCR %s loaded; warm-up read %d text region(s)", self.version, len(crops))

    @property
    def engine(self) -> OcrEngine:
        """The loaded engine."""
        if self._engine is None:
            raise RuntimeError("OCR engine used before warm-up")
        return self._engine

    def check_inputs(self, job: Job) -> None:
        """Also reads the image header: only images Pillow may open, within the pixel limit.

        Raises:
            PrizmError: INVALID_ARGUMENT: UNSUPPORTED_MEDIA or INPUT_TOO_LARGE.
        """
        super().check_inputs(job)
        probe(_source(job.inputs[0]))

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Decodes, detects the text regions, recognizes them a batch at a time, keeps the confident."""
        yield Progress(fraction=0.0, stage="decode", message="decoding the image")
        decoded = await asyncio.to_thread(decode, _source(job.inputs[0]))
        bgr = await asyncio.to_thread(to_bgr, decoded.image)
        yield Progress(
            fraction=_DECODED, stage="decode", message=f"{decoded.facts.width}x{decoded.facts.height}"
        )
        crops = await asyncio.to_thread(self.engine.detect, bgr)
        yield Progress(fraction=_DETECTED, stage="detect", message=f"{len(crops)} text region(s)")
        lines: list[Line] = []
        if not crops:
            yield Progress(fraction=1.0, stage="recognize", message="no text found")
        for indices in batches(len(crops), self.engine.batch_size):
            lines += await asyncio.to_thread(self.engine.recognize, [crops[i] for i in indices])
            yield Progress(
                fraction=_DETECTED + (1 - _DETECTED) * indices.stop / len(crops),
                stage="recognize",
                message=f"{indices.stop} of {len(crops)} region(s) read",
            )
        kept = confident(lines, float(job.options["min_confidence"]))
        yield Output(
            kind=MediaKind.TEXT,
            mime_type="text/plain; charset=utf-8",
            data=transcript(kept).encode("utf-8"),
            metadata={**summary(kept), "regions": str(len(crops))},
        )
