"""RapidOCR run in steps (detect the text regions, then recognize them a batch at a time), so a job
reports real progress and a cancel lands between batches instead of after the whole page."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from provider_servers.ocr.lines import Line

__all__ = ["OcrEngine", "to_bgr", "warm_up_image"]

Pixels = npt.NDArray[np.uint8]


def to_bgr(image: Image.Image) -> Pixels:
    """The image as the BGR array RapidOCR reads, transparency laid on white."""
    if "A" in image.mode:
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def warm_up_image() -> Image.Image:
    """A tiny image with a word on it: enough to run detection and recognition once."""
    image = Image.new("RGB", (96, 48), "white")
    ImageDraw.Draw(image).text((8, 12), "Ready", fill="black", font=ImageFont.load_default(20))
    return image


class OcrEngine:
    """One RapidOCR engine (PP-OCRv4 detection and recognition on ONNX Runtime), used a step at a time.

    Steps take a lock: ONNX Runtime already spreads one step over every core,
    and the detector keeps per-call state on itself.
    """

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    @classmethod
    def load(cls) -> OcrEngine:
        """Loads the models shipped in the rapidocr-onnxruntime wheel (blocking, ~0.5 s).

        Raises:
            ImportError: rapidocr-onnxruntime is not installed.
        """
        from rapidocr_onnxruntime import RapidOCR  # noqa: PLC0415 - an optional extra; missing() says so

        return cls(RapidOCR())

    @property
    def batch_size(self) -> int:
        """Text regions recognized per step."""
        return int(self._engine.text_rec.rec_batch_num)

    def detect(self, bgr: Pixels) -> list[Pixels]:
        """Finds the text regions, top to bottom, and returns each cut out and turned upright.

        This follows `RapidOCR.__call__` up to recognition: scale, pad, detect,
        sort, cut out, classify the 180-degree turn.
        """
        engine = self._engine
        with self._lock:
            image, ratio_h, ratio_w = engine.preprocess(bgr)
            record = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
            image, record = engine.maybe_add_letterbox(image, record)
            boxes, _ = engine.auto_text_det(image)
            if boxes is None:
                return []
            crops = engine.get_crop_img_list(image, boxes)
            if engine.use_cls:
                crops, _, _ = engine.text_cls(crops)
        return list(crops)

    def recognize(self, crops: list[Pixels]) -> list[Line]:
        """The text and confidence of each region, in the order given."""
        with self._lock:
            results, _ = self._engine.text_rec(crops)
        return [Line(str(text), float(score)) for text, score, *_ in results]
