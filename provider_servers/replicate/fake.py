"""A fake Replicate for tests and offline runs: its documented prediction and file endpoints on loopback.

It speaks Replicate's HTTP API as its reference and `replicate-python` show it: predictions created by
model (`POST /v1/models/{owner}/{name}/predictions`), by version (`POST /v1/predictions`) or by
deployment (`POST /v1/deployments/{owner}/{name}/predictions`), `Prefer: wait`, `GET
/v1/predictions/{id}` with `logs` (tqdm bars), `output`, `error` and `metrics.predict_time`, `POST
/v1/predictions/{id}/cancel`, `POST /v1/files` and the free `GET /v1/account`. It renders real
media for the declared models (PNG pictures, WAV speech) so tests can check content. The knobs
(`polls`, `create_error`, `fail_with`, `output_bytes`) script how predictions go.

Use it as `with ReplicateFake(token) as fake:` and point the provider at it with
`REPLICATE_BASE_URL=fake.url` and `REPLICATE_API_TOKEN=token`.
"""

from __future__ import annotations

import asyncio
import email.policy
import itertools
import json
import time
from collections.abc import Mapping
from email.parser import BytesParser
from typing import Any

from aiohttp import web

from provider_servers.remote import FakeVendor
from provider_servers.replicate.fake_media import png, png_size, tone_wav
from provider_servers.replicate.mapping import FINISHED, parse_data_url

__all__ = ["ESRGAN_VERSION", "ReplicateFake"]

ESRGAN_VERSION = "f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa"
# FLUX's sizes at one megapixel per aspect ratio; a quarter megapixel halves both sides.
_RATIOS = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "21:9": (1536, 640),
    "3:2": (1216, 832),
    "2:3": (832, 1216),
    "4:5": (896, 1088),
    "5:4": (1088, 896),
    "3:4": (896, 1152),
    "4:3": (1152, 896),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}
_LLAMA = "meta/meta-llama-3-8b-instruct"
_OFFICIAL = (
    "black-forest-labs/flux-schnell",
    # Not built into the provider: run by name alone, it proves the by-reference path.
    "black-forest-labs/flux-dev",
    "black-forest-labs/flux-1.1-pro",
    "minimax/speech-02-turbo",
    _LLAMA,
)
_SECONDS_PER_CHARACTER = 0.06


def _problem(status: int, title: str, detail: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """An RFC 7807 problem, the shape of Replicate's errors."""
    body = {"title": title, "detail": detail, "status": status}
    return web.json_response(body, status=status, headers=dict(headers or {}))


class ReplicateFake(FakeVendor):
    """Replicate's prediction API on `127.0.0.1`, for one token.

    Attributes:
        token: The only token it accepts (anything else: 401).
        polls: GETs a prediction takes after its creation before it ends; 0 ends it at creation
            (what `Prefer: wait` then answers). With more, creation answers at once with the
            prediction `starting`, as Replicate does when the wait runs out.
        create_error: `(status, detail, headers)` the next creations answer with, e.g. `(429, "slow
            down", {"Retry-After": "7"})`; None to accept them.
        fail_with: The error predictions end with instead of succeeding; None to succeed.
        output_bytes: When > 0, pictures are noise PNGs of at least this many bytes (large outputs).
        piece_delay_s: Pause between the words a language model's stream sends.
        predictions: Every prediction made, by id, as Replicate would report it.
    """

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.polls = 0
        self.create_error: tuple[int, str, Mapping[str, str]] | None = None
        self.fail_with: str | None = None
        self.output_bytes = 0
        self.predictions: dict[str, dict[str, Any]] = {}
        self._files: dict[str, bytes] = {}
        self._delivery: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self._seen: dict[str, int] = {}
        self._pending: dict[str, list[tuple[str, bytes]]] = {}
        self._text: dict[str, list[str]] = {}
        self.piece_delay_s = 0.02

    def routes(self, app: web.Application) -> None:
        """Replicate's endpoints."""
        app.router.add_get("/v1/account", self._account)
        app.router.add_post("/v1/models/{owner}/{name}/predictions", self._create_by_model)
        app.router.add_post("/v1/deployments/{owner}/{name}/predictions", self._create_by_deployment)
        app.router.add_post("/v1/predictions", self._create_by_version)
        app.router.add_get("/v1/predictions/{id}", self._get)
        app.router.add_post("/v1/predictions/{id}/cancel", self._cancel)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/delivery/{id}/{name}", self._download)
        app.router.add_get("/v1/streams/{id}", self._stream)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _unauthorized(self) -> web.Response:
        return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")

    async def _account(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return web.json_response({"type": "user", "username": "prizm-fake", "name": "Prizm Fake"})

    async def _create_by_model(self, request: web.Request) -> web.Response:
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        if model not in _OFFICIAL:
            return _problem(404, "Not found", "The requested resource could not be found.")
        return await self._create(request, model, "")

    async def _create_by_deployment(self, request: web.Request) -> web.Response:
        # A deployment here runs the official model of the same name (`deployments/owner/name`).
        return await self._create_by_model(request)

    async def _create_by_version(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict) or body.get("version") != ESRGAN_VERSION:
            return _problem(422, "Invalid version", "Invalid version or not permitted")
        return await self._create(request, "nightmareai/real-esrgan", ESRGAN_VERSION)

    async def _create(self, request: web.Request, model: str, version: str) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        if self.create_error is not None:
            status, detail, headers = self.create_error
            return _problem(status, "Error", detail, headers)
        body = await request.json()
        inputs = body.get("input") if isinstance(body, dict) else None
        if not isinstance(inputs, dict):
            return _problem(422, "Input validation failed", "input is required")
        try:
            outputs = self._render(model, inputs)
        except ValueError as exc:
            return _problem(422, "Input validation failed", str(exc))
        prediction_id = f"fake{next(self._ids):06d}"
        base = f"{self.url}/v1/predictions/{prediction_id}"
        self.predictions[prediction_id] = {
            "id": prediction_id,
            "model": model,
            "version": version or "official",
            "input": inputs,
            "logs": "",
            "output": None,
            "error": None,
            "status": "starting",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "urls": {"get": base, "cancel": f"{base}/cancel"},
            "metrics": {},
        }
        if model == _LLAMA:
            # What the model "writes": the prompt echoed, a word at a time, as a language model streams.
            words = f"You said: {inputs.get('prompt', '')}".split(" ")
            self._text[prediction_id] = [word + " " for word in words[:-1]] + words[-1:]
            if body.get("stream"):
                self.predictions[prediction_id]["urls"]["stream"] = f"{self.url}/v1/streams/{prediction_id}"
        self._seen[prediction_id] = 0
        self._pending[prediction_id] = outputs
        if self.polls == 0:
            self._finish(prediction_id)
        return web.json_response(self.predictions[prediction_id], status=201)

    def _render(self, model: str, inputs: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        """The files a prediction makes, as `(name, bytes)`.

        Raises:
            ValueError: The input is not what the model takes.
        """
        if model == _LLAMA:
            if not inputs.get("prompt"):
                raise ValueError("prompt is required")
            return []
        if model == "minimax/speech-02-turbo":
            text = str(inputs.get("text", ""))
            if not text or inputs.get("audio_format", "mp3") != "wav":
                raise ValueError("text is required; this fake renders audio_format wav only")
            seconds = len(text) * _SECONDS_PER_CHARACTER / float(inputs.get("speed", 1.0))
            return [("speech.wav", tone_wav(seconds, int(inputs.get("sample_rate", 32000))))]
        if model == "nightmareai/real-esrgan":
            width, height = png_size(self._file(str(inputs.get("image", ""))))
            scale = float(inputs.get("scale", 4.0))
            return [("upscaled.png", png(round(width * scale), round(height * scale), "esrgan"))]
        if inputs.get("output_format", "webp") != "png":
            raise ValueError("this fake renders output_format png only")
        width, height = self._picture_size(inputs)
        count = int(inputs.get("num_outputs", 1)) if model.endswith("schnell") else 1
        seed = f"{inputs.get('prompt', '')}|{inputs.get('seed', '')}"
        return [(f"out-{i}.png", self._picture(width, height, f"{seed}|{i}")) for i in range(count)]

    def _picture(self, width: int, height: int, seed: str) -> bytes:
        if self.output_bytes <= 0:
            return png(width, height, seed)
        rows = self.output_bytes // (4096 * 3) + 1
        return png(4096, rows, seed, noise=True)

    @staticmethod
    def _picture_size(inputs: Mapping[str, Any]) -> tuple[int, int]:
        ratio = str(inputs.get("aspect_ratio", "1:1"))
        if ratio == "custom":
            width, height = int(inputs.get("width", 0)), int(inputs.get("height", 0))
            if not (256 <= width <= 1440 and 256 <= height <= 1440):
                raise ValueError("width and height must be between 256 and 1440")
            return width, height
        if ratio not in _RATIOS:
            raise ValueError(f"aspect_ratio must be one of {sorted(_RATIOS)}")
        width, height = _RATIOS[ratio]
        return (width, height) if inputs.get("megapixels", "1") == "1" else (width // 2, height // 2)

    def _file(self, url: str) -> bytes:
        """An input file given as a data URL or as a URL of a file uploaded here."""
        if url.startswith("data:"):
            return parse_data_url(url).data
        file_id = url.rstrip("/").rsplit("/", 1)[-1]
        if not url.startswith(f"{self.url}/v1/files/") or file_id not in self._files:
            raise ValueError(f"cannot fetch input file {url[:80]}")
        return self._files[file_id]

    def _logs(self, prediction_id: str, step: int) -> str:
        total = max(self.polls, 1)
        seed = self.predictions[prediction_id]["input"].get("seed", 1234)
        lines = [f"Using seed: {seed}"]
        for done in range(1, min(step, total) + 1):
            percent = done * 100 // total
            bar = "█" * (percent // 10) + " " * (10 - percent // 10)
            lines.append(f"{percent:3d}%|{bar}| {done}/{total} [00:0{done}<00:00,  1.00it/s]")
        return "\n".join(lines) + "\n"

    def _finish(self, prediction_id: str) -> None:
        prediction = self.predictions[prediction_id]
        llama = prediction_id in self._text
        prediction["logs"] = "Loading Llama 3\n" if llama else self._logs(prediction_id, self.polls)
        prediction["metrics"] = {"predict_time": 1.25}
        prediction["completed_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        if self.fail_with is not None:
            prediction.update(status="failed", error=self.fail_with)
            return
        if llama:
            pieces = self._text.pop(prediction_id)
            prediction["metrics"].update(
                input_token_count=len(str(prediction["input"].get("prompt", "")).split()),
                output_token_count=len(pieces),
            )
            prediction.update(status="succeeded", output=pieces)
            return
        urls = []
        for name, data in self._pending.pop(prediction_id, []):
            self._delivery[f"{prediction_id}/{name}"] = data
            urls.append(f"{self.url}/delivery/{prediction_id}/{name}")
        many = prediction["model"] == "black-forest-labs/flux-schnell"
        prediction.update(status="succeeded", output=urls if many else urls[0])

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """The prediction's Server-Sent Events: a log line, the text a word at a time, then done."""
        prediction_id = request.match_info["id"]
        prediction = self.predictions.get(prediction_id)
        if prediction is None or prediction_id not in self._text:
            return _problem(404, "Not found", "The requested resource could not be found.")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"event: logs\ndata: Loading Llama 3\n\n")
        for number, piece in enumerate(self._text[prediction_id]):
            await asyncio.sleep(self.piece_delay_s)
            if prediction["status"] == "canceled":
                await response.write(b'event: done\ndata: {"reason": "canceled"}\n\n')
                return response
            if self.fail_with is not None:
                break
            await response.write(f"event: output\nid: {number}\ndata: {piece}\n\n".encode())
        self._finish(prediction_id)
        if self.fail_with is not None:
            await response.write(f"event: error\ndata: {json.dumps({'detail': self.fail_with})}\n\n".encode())
        else:
            await response.write(b"event: done\ndata: {}\n\n")
        return response

    async def _get(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        prediction_id = request.match_info["id"]
        prediction = self.predictions.get(prediction_id)
        if prediction is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        if prediction["status"] not in FINISHED:
            self._seen[prediction_id] += 1
            step = self._seen[prediction_id]
            if step >= self.polls:
                self._finish(prediction_id)
            else:
                prediction.update(status="processing", logs=self._logs(prediction_id, step))
        return web.json_response(prediction)

    async def _cancel(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        prediction = self.predictions.get(request.match_info["id"])
        if prediction is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        if prediction["status"] not in FINISHED:
            prediction.update(status="canceled")
        return web.json_response(prediction)

    async def _upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        # The recording middleware has read the body: the multipart form is parsed from its bytes.
        header = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=email.policy.default).parsebytes(header + await request.read())
        parts = [
            p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "content"
        ]
        if not parts:
            return _problem(422, "Invalid file", "a multipart field named content is required")
        data = parts[0].get_payload(decode=True)
        if not isinstance(data, bytes):
            return _problem(422, "Invalid file", "the content field is empty")
        file_id = f"file{next(self._ids):06d}"
        self._files[file_id] = data
        file = {
            "id": file_id,
            "name": parts[0].get_filename(),
            "content_type": parts[0].get_content_type(),
            "size": len(data),
            "urls": {"get": f"{self.url}/v1/files/{file_id}"},
        }
        return web.json_response(file, status=201)

    async def _download(self, request: web.Request) -> web.Response:
        data = self._delivery.get(f"{request.match_info['id']}/{request.match_info['name']}")
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")
