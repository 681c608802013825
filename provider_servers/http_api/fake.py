"""`AmazingAiFake`: the seeds' imaginary "AmazingAI" API on loopback, for `fake_config.yaml`.

A test double, shipped so that anyone can try the generic HTTP provider without a key. It speaks
the API `fake_config.yaml` describes:

- `GET /v1/models`: the model list (the free health endpoint).
- `POST /v1/speech` (JSON `text`, `voice`, `speed`, `sample_rate`): a WAV body, a tone of 60 ms
  per character at the normal speed (220 Hz for voice `low`, 440 Hz for `high`).
- `POST /v1/images` (JSON `prompt`, `width`, `height`, `seed`, `n`): `{"data": [{"b64_json"}]}`,
  `n` PNGs of the size asked for, each one color drawn from the seed.
- `POST /v1/transcriptions` (multipart `file`, `language`): `{"text", "duration"}` saying how
  many seconds of WAV audio at which rate it heard; it recognises no words.
- `POST /v1/narrations` (JSON `text`): an asynchronous job, `{"id", "status": "queued"}`;
  `GET /v1/jobs/{id}` reports it queued (`queue_position`), then running (`percent`; a longer
  text runs longer), then `succeeded` with `result.url`, a WAV under `/files/`;
  `POST /v1/jobs/{id}/cancel` cancels it.

Every request needs `Authorization: Bearer <api_key>` (401 otherwise). A text holding `[429]`,
`[503]`, `[400]`, `[unsafe]` or `[fail]` gets that error (`[fail]`: the job fails after it was
accepted); `[echo-key]` gets a 400 whose message repeats the Authorization header, as careless
APIs do.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web

from provider_servers.remote import FakeVendor
from provider_servers.sdk.audio import decode_wav, encode_wav

__all__ = ["SECONDS_PER_CHARACTER", "AmazingAiFake", "png"]

SECONDS_PER_CHARACTER = 0.06
_RATE = 16_000


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    """A PNG of one color (RGB, 8 bits), written with zlib alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(color) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _tone(seconds: float, hertz: float, rate: int) -> bytes:
    # One second repeated (whole hertz: it ends where it starts), so a long tone costs little memory.
    second = (np.sin(2 * np.pi * hertz * np.arange(rate) / rate) * 8000).astype(np.int16)
    return encode_wav(np.tile(second, int(seconds) + 1)[: int(seconds * rate)], rate)


def _error(status: int, message: str, code: str = "", **headers: str) -> web.Response:
    body = {"error": {"message": message, **({"code": code} if code else {})}}
    return web.json_response(body, status=status, headers=headers)


def _trouble(text: str, request: web.Request) -> web.Response | None:
    """The error a marker in `text` asks for, if any."""
    if "[429]" in text:
        return _error(429, "too many requests; slow down", "rate_limited", **{"Retry-After": "7"})
    if "[503]" in text:
        return _error(503, "the GPUs are all busy", "overloaded")
    if "[400]" in text:
        return _error(400, "the prompt is longer than this model takes", "invalid_request")
    if "[unsafe]" in text:
        return _error(400, "this prompt breaks the usage policy", "content_policy_violation")
    if "[echo-key]" in text:
        return _error(400, f"bad request with header Authorization: {request.headers.get('Authorization')}")
    return None


@dataclass
class _Job:
    text: str
    running_polls: int
    polls: int = 0
    status: str = "queued"


class AmazingAiFake(FakeVendor):
    """The AmazingAI API, as the module docstring describes it.

    Args:
        api_key: The one key it accepts.
        queued_polls: Polls a job stays queued for (its position counting down to 1).
        running_polls: Polls it then runs for at least (one more for every 40 characters past
            that), its percent going up evenly.
    """

    def __init__(self, api_key: str, *, queued_polls: int = 2, running_polls: int = 3) -> None:
        super().__init__()
        self.api_key = api_key
        self.queued_polls = queued_polls
        self.running_polls = running_polls
        self.jobs: dict[str, _Job] = {}

    def routes(self, app: web.Application) -> None:
        """The API's endpoints, each behind the key check."""
        app.middlewares.append(self._authorize)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/speech", self._speech)
        app.router.add_post("/v1/images", self._images)
        app.router.add_post("/v1/transcriptions", self._transcriptions)
        app.router.add_post("/v1/narrations", self._narrate)
        app.router.add_get("/v1/jobs/{id}", self._poll)
        app.router.add_post("/v1/jobs/{id}/cancel", self._cancel)
        app.router.add_get("/files/{id}.wav", self._file)

    @web.middleware
    async def _authorize(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid API key", "invalid_api_key")
        response: web.StreamResponse = await handler(request)
        return response

    async def _models(self, request: web.Request) -> web.Response:
        del request
        return web.json_response({"models": ["amazing-speech", "amazing-image", "amazing-narrator"]})

    async def _speech(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = str(body.get("text", ""))
        if trouble := _trouble(text, request):
            return trouble
        seconds = len(text) * SECONDS_PER_CHARACTER / float(body.get("speed", 1.0))
        hertz = 220.0 if body.get("voice", "low") == "low" else 440.0
        wav = _tone(seconds, hertz, int(body.get("sample_rate", _RATE)))
        return web.Response(body=wav, content_type="audio/wav")

    async def _images(self, request: web.Request) -> web.Response:
        body = await request.json()
        prompt = str(body.get("prompt", ""))
        if trouble := _trouble(prompt, request):
            return trouble
        width, height, count = int(body.get("width", 64)), int(body.get("height", 64)), int(body.get("n", 1))
        images = []
        for index in range(count):
            digest = hashlib.sha256(f"{prompt}/{body.get('seed', 0)}/{index}".encode()).digest()
            images.append({"b64_json": _b64(png(width, height, (digest[0], digest[1], digest[2])))})
        return web.json_response({"data": images, "usage": {"images": count}})

    async def _transcriptions(self, request: web.Request) -> web.Response:
        form = _form(request.headers.get("Content-Type", ""), await request.read())
        if "file" not in form:
            return _error(400, "the file part is missing", "invalid_request")
        try:
            pcm = decode_wav(form["file"])
        except ValueError:
            return _error(400, "the file is not a WAV file", "invalid_request")
        language = form.get("language", b"en").decode()
        text = f"{pcm.duration_s:.2f} seconds of {pcm.sample_rate} Hz audio in {language}"
        return web.json_response({"text": text, "duration": round(pcm.duration_s, 3)})

    async def _narrate(self, request: web.Request) -> web.Response:
        text = str((await request.json()).get("text", ""))
        if trouble := _trouble(text, request):
            return trouble
        job_id = f"job-{len(self.jobs) + 1}"
        # A longer text runs longer: a poll for every 40 characters, `running_polls` at least.
        self.jobs[job_id] = _Job(text, max(self.running_polls, len(text) // 40))
        return web.json_response({"id": job_id, "status": "queued"}, status=202)

    def _report(self, job_id: str, job: _Job) -> dict[str, Any]:
        if job.status in ("canceled", "failed", "succeeded"):
            report: dict[str, Any] = {"id": job_id, "status": job.status}
        elif job.polls <= self.queued_polls:
            report = {"id": job_id, "status": "queued", "queue_position": self.queued_polls - job.polls + 1}
        else:
            ran = job.polls - self.queued_polls
            if ran > job.running_polls:
                job.status = "failed" if "[fail]" in job.text else "succeeded"
                return self._report(job_id, job)
            report = {
                "id": job_id,
                "status": "running",
                "percent": round(100 * ran / (job.running_polls + 1)),
            }
        if job.status == "succeeded":
            report["result"] = {"url": f"{self.url}/files/{job_id}.wav", "seconds": self._seconds(job)}
        if job.status == "failed":
            report["error"] = "the narrator lost their voice"
        return report

    def _seconds(self, job: _Job) -> float:
        return round(len(job.text) * SECONDS_PER_CHARACTER, 3)

    async def _poll(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(404, "no such job", "not_found")
        job.polls += 1
        return web.json_response(self._report(request.match_info["id"], job))

    async def _cancel(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(404, "no such job", "not_found")
        if job.status not in ("succeeded", "failed"):
            job.status = "canceled"
        return web.json_response({"id": request.match_info["id"], "status": job.status})

    async def _file(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None or job.status != "succeeded":
            return _error(404, "no such file", "not_found")
        return web.Response(body=_tone(self._seconds(job), 330.0, _RATE), content_type="audio/wav")


def _form(content_type: str, body: bytes) -> dict[str, bytes]:
    """The parts of a multipart/form-data body by name (the recorder has read the stream already)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return {}
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = payload
    return parts


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
