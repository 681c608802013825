"""`FakeFal`: fal's queue, storage and platform APIs on loopback, as fal documents them, for tests.

A test double users may run too: point `FAL_BASE_URL`, `FAL_REST_URL` and `FAL_API_URL` at
`fake.url`, `fake.url` and `fake.url + "/v1"`, with `FAL_KEY` set to its key. It is not a model:
image endpoints answer plain PNGs of the size asked for (image-to-image: of the input's size),
`fal-ai/kokoro/*` answers a tone as long as the text would take to say (15 characters a second,
over `speed`), `fal-ai/whisper` reports the size and SHA-256 of the audio it received instead of
words, and every other endpoint answers a video file of `Script.video_bytes` bytes. `script` sets
how the next requests go: queue positions, log lines, a failure before or after acceptance, or a
request that runs until it is cancelled.
"""

from __future__ import annotations

import array
import base64
import hashlib
import io
import itertools
import math
import struct
import wave
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from provider_servers.remote import FakeVendor

__all__ = ["FakeFal", "Script", "png", "tone", "video_bytes"]

_PIECE = 1024 * 1024


def png(width: int, height: int, shade: int = 0) -> bytes:
    """A valid PNG, `width` x `height`, one grey `shade`: what the fake's image endpoints answer."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = (b"\x00" + bytes([shade % 256]) * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def tone(seconds: float, rate: int = 24_000) -> bytes:
    """A 440 Hz tone of `seconds` as a 16-bit mono WAV at `rate` Hz: what the fake's speech answers."""
    frames = array.array(
        "h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(round(seconds * rate)))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames.tobytes())
    return out.getvalue()


def video_bytes(size: int) -> bytes:
    """The first `size` bytes of the fake's video: a counting pattern, so a test can check every byte."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


@dataclass
class Script:
    """How the fake answers the requests submitted from now on.

    Attributes:
        queue_positions: fal's `queue_position` of each status read while IN_QUEUE, in order.
        logs: Log lines; each IN_PROGRESS read reveals one more, then the request completes.
        hold: Stay IN_PROGRESS after the last log line until the request is cancelled.
        fail_after_accept: A message: the request completes with this error, and its result is a 422.
        submit_status: An HTTP status to refuse the submission with (0 accepts it).
        submit_body: The JSON body of that refusal.
        submit_headers: Headers of that refusal (e.g. `Retry-After`).
        video_bytes: Size of the video file non-image endpoints answer.
    """

    queue_positions: tuple[int, ...] = (1, 0)
    logs: tuple[str, ...] = ("Loading the model", "Sampling: 50%", "Sampling: 100%")
    hold: bool = False
    fail_after_accept: str = ""
    submit_status: int = 0
    submit_body: Any = None
    submit_headers: dict[str, str] = field(default_factory=dict)
    video_bytes: int = 1024


@dataclass
class _Request:
    endpoint: str
    arguments: dict[str, Any]
    script: Script
    reads: int = 0
    cancelled: bool = False


class FakeFal(FakeVendor):
    """fal's documented endpoints: queue submit, status (`?logs=1`), result and cancel; storage
    upload (initiate, then PUT the bytes); and the platform's model list, used for health.

    Args:
        key: The only key accepted (`Authorization: Key <key>`); anything else is a 401.
    """

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.script = Script()
        self.files: dict[str, bytes] = {}
        self._requests: dict[str, _Request] = {}
        self._ids = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        """fal's queue (`queue.fal.run`), storage (`rest.fal.ai`) and platform (`api.fal.ai/v1`) paths."""
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/storage/upload/initiate", self._initiate)
        app.router.add_put("/upload/{token}", self._upload)
        app.router.add_get("/files/{token}", self._file)
        app.router.add_get("/{owner}/{alias}/requests/{id}/status", self._status)
        app.router.add_put("/{owner}/{alias}/requests/{id}/cancel", self._cancel)
        app.router.add_get("/{owner}/{alias}/requests/{id}", self._result)
        app.router.add_post("/{endpoint:.+}", self._submit)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Key {self.key}"

    @staticmethod
    def _unauthorized() -> web.Response:
        return web.json_response({"detail": "No user found for Key ID and Secret"}, status=401)

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return web.json_response({"models": [{"endpoint_id": "fal-ai/flux/schnell"}], "has_more": False})

    async def _initiate(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        body = await request.json()
        token = f"{next(self._ids)}-{body.get('file_name', 'upload.bin')}"
        base = f"http://127.0.0.1:{self.port}"
        return web.json_response(
            {"upload_url": f"{base}/upload/{token}", "file_url": f"{base}/files/{token}"}
        )

    async def _upload(self, request: web.Request) -> web.Response:
        self.files[request.match_info["token"]] = await request.read()
        return web.Response(status=200)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if token.startswith("video-"):
            size = int(token.split("-")[1])
            response = web.StreamResponse(headers={"Content-Type": "video/mp4", "Content-Length": str(size)})
            await response.prepare(request)
            for start in range(0, size, _PIECE):
                await response.write(video_bytes(min(_PIECE, size - start) + start % 256)[start % 256 :])
            await response.write_eof()
            return response
        if token not in self.files:
            return web.json_response({"detail": "Not found"}, status=404)
        kind = "audio/wav" if token.endswith(".wav") else "image/png"
        return web.Response(body=self.files[token], content_type=kind)

    async def _submit(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        script = self.script
        if script.submit_status:
            return web.json_response(
                script.submit_body or {"detail": "refused"},
                status=script.submit_status,
                headers=script.submit_headers,
            )
        endpoint = request.match_info["endpoint"]
        request_id = f"req-{next(self._ids)}"
        self._requests[request_id] = _Request(endpoint, await request.json(), script)
        app = "/".join(endpoint.split("/")[:2])
        base = f"http://127.0.0.1:{self.port}/{app}/requests/{request_id}"
        return web.json_response(
            {
                "request_id": request_id,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
                "queue_position": script.queue_positions[0] if script.queue_positions else 0,
            },
            status=200,
        )

    def _request(self, request: web.Request) -> _Request | None:
        return self._requests.get(request.match_info["id"])

    async def _status(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        job = self._request(request)
        if job is None:
            return web.json_response({"detail": "Request not found"}, status=404)
        script, read = job.script, job.reads
        job.reads += 1
        if read < len(script.queue_positions):
            return web.json_response({"status": "IN_QUEUE", "queue_position": script.queue_positions[read]})
        shown = read - len(script.queue_positions) + 1
        logs = [
            {"message": m, "level": "INFO", "source": "user", "timestamp": "2026-01-01T00:00:00Z"}
            for m in script.logs[:shown]
        ]
        wants_logs = request.query.get("logs") in ("1", "true")
        running = shown <= len(script.logs) or (script.hold and not job.cancelled)
        if running:
            return web.json_response({"status": "IN_PROGRESS", "logs": logs if wants_logs else None})
        done: dict[str, Any] = {"status": "COMPLETED", "logs": logs if wants_logs else None, "metrics": {}}
        if script.fail_after_accept or job.cancelled:
            done["error"] = script.fail_after_accept or "Request was cancelled"
            done["error_type"] = "request_error"
        return web.json_response(done)

    async def _cancel(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        job = self._request(request)
        if job is None:
            return web.json_response({"detail": "Request not found"}, status=404)
        job.cancelled = True
        return web.json_response({"status": "CANCELLATION_REQUESTED"}, status=202)

    async def _result(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        job = self._request(request)
        if job is None:
            return web.json_response({"detail": "Request not found"}, status=404)
        if job.script.fail_after_accept:
            detail = [{"loc": ["body"], "msg": job.script.fail_after_accept, "type": "internal_error"}]
            return web.json_response({"detail": detail}, status=422)
        return web.json_response(self._answer(job))

    def _answer(self, job: _Request) -> dict[str, Any]:
        """The result of a completed request, by the kind of endpoint."""
        base = f"http://127.0.0.1:{self.port}/files"
        args = job.arguments
        if job.endpoint.startswith("fal-ai/flux/"):
            size = args.get("image_size") or self._input_size(args) or {"width": 1024, "height": 768}
            images = []
            for index in range(int(args.get("num_images", 1))):
                token = f"{next(self._ids)}-image.png"
                self.files[token] = png(size["width"], size["height"], int(args.get("seed", 0)) + index)
                images.append(
                    {
                        "url": f"{base}/{token}",
                        "width": size["width"],
                        "height": size["height"],
                        "content_type": "image/png",
                    }
                )
            return {
                "images": images,
                "seed": args.get("seed", 0),
                "has_nsfw_concepts": [False] * len(images),
                "timings": {"inference": 0.25},
                "prompt": args.get("prompt", ""),
            }
        if job.endpoint.startswith("fal-ai/kokoro/"):
            # A tone as long as speech of the text would be at 15 characters a second, over `speed`.
            seconds = len(str(args.get("prompt", ""))) / 15 / float(args.get("speed", 1.0))
            token = f"{next(self._ids)}-speech.wav"
            self.files[token] = tone(seconds)
            return {"audio": {"url": f"{base}/{token}", "content_type": "audio/wav"}}
        if job.endpoint == "fal-ai/whisper":
            audio = self._fetched(str(args.get("audio_url", "")))
            heard = f"{len(audio)} bytes, sha256 {hashlib.sha256(audio).hexdigest()}"
            return {"text": heard, "chunks": [], "timings": {"inference": 1.5}}
        size = job.script.video_bytes
        return {"video": {"url": f"{base}/video-{size}", "content_type": "video/mp4", "file_size": size}}

    def _input_size(self, args: dict[str, Any]) -> dict[str, int] | None:
        """The size of the PNG at `image_url`, which image-to-image answers in."""
        picture = self._fetched(str(args.get("image_url", "")))
        if not picture.startswith(b"\x89PNG"):
            return None
        width, height = struct.unpack(">II", picture[16:24])
        return {"width": width, "height": height}

    def _fetched(self, url: str) -> bytes:
        """The bytes behind a data URI or a URL of this fake's storage."""
        if url.startswith("data:"):
            return base64.b64decode(url.split(",", 1)[1])
        return self.files.get(url.rsplit("/", 1)[-1], b"")
