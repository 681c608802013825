"""A local stand-in for OpenAI's API, from its API reference: a test double that users may run too.

It speaks the endpoints the openai provider calls, with OpenAI's documented payloads and error body
(`{"error": {"message", "type", "param", "code"}}`): `GET /models`, `POST /images/generations`,
`POST /images/edits` (multipart), `POST /audio/speech` (the audio streamed in chunks),
`POST /audio/transcriptions` (multipart) and `POST /chat/completions` (JSON, or server-sent events
with `stream`). Pictures are real PNGs, speech a real tone in the format asked for; transcripts and
chat answers are what the test sets. `fail(...)` makes the next calls to a path fail as OpenAI does.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import hashlib
import io
import json
import time
import wave
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from provider_servers.openai.fake_media import encode_speech, png, tone_pcm
from provider_servers.openai.models import IMAGE_SIZES, SPEECH_FORMATS, VOICES
from provider_servers.remote import FakeVendor

__all__ = ["SPEECH_SECONDS_PER_CHARACTER", "Failure", "FakeOpenAI"]

# Seconds of speech per character at speed 1 (about 15 characters a second, as people speak).
SPEECH_SECONDS_PER_CHARACTER = 1 / 15
_SPEECH_CHUNK = 64 * 1024
_CONTENT_WORD = "forbidden"
# /audio/transcriptions knows a file's format by its name's extension.
_AUDIO_EXTENSIONS = frozenset({"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"})


@dataclass(frozen=True)
class Failure:
    """How a call fails: its HTTP status, OpenAI's error object and extra headers."""

    status: int
    error: Mapping[str, object]
    headers: Mapping[str, str]


def _error(status: int, message: str, kind: str, code: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status)


@dataclass(frozen=True)
class _Part:
    """One part of a multipart form: its bytes and, for a file, its name."""

    data: bytes
    filename: str = ""

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


async def _form(request: web.Request) -> dict[str, _Part]:
    """The parts of a multipart/form-data body by name. Parsed from the bytes `FakeVendor` already
    read (and aiohttp caches), since its recording has consumed the stream `request.post()` reads."""
    body = await request.read()
    head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts: dict[str, _Part] = {}
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = _Part(payload, part.get_filename() or "")
    return parts


def _seconds(data: bytes) -> float:
    """The length of a WAV from its header; 1 for other formats (the least the fake bills)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            return round(wav.getnframes() / wav.getframerate(), 3)
    except (wave.Error, EOFError):
        return 1.0


class FakeOpenAI(FakeVendor):
    """OpenAI's API on 127.0.0.1, checking the key it was given.

    Attributes:
        transcript: What /audio/transcriptions answers.
        answer: What /chat/completions answers; empty echoes the last user message.
        delay_s: Pause between streamed pieces (chat deltas, speech chunks), so a test can cancel.
        speech_bytes: When set, /audio/speech streams this many bytes of the asked format's
            tone instead of one as long as the text (a large output).
        image_delay_s: Seconds /images/generations takes to answer.
        cut_after: When set, a chat stream breaks off (the connection closed) after this many deltas.
        aborted: Paths whose response the client dropped before its end.
        completed: Paths whose streamed response was sent to its end.
        files: Pictures served at `/files/NAME`, the URLs DALL-E answers with.
    """

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.transcript = "the quick brown fox jumps over the lazy dog"
        self.answer = ""
        self.delay_s = 0.01
        self.speech_bytes = 0
        self.cut_after = 0
        self.image_delay_s = 0.0
        self.aborted: list[str] = []
        self.completed: list[str] = []
        self.files: dict[str, bytes] = {}
        self._failures: dict[str, list[Failure]] = {}
        super().__init__()

    def fail(
        self,
        path: str,
        status: int,
        message: str,
        *,
        kind: str = "server_error",
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Makes the next `times` calls to `path` fail with `status` and OpenAI's error body."""
        error = {"message": message, "type": kind, "param": None, "code": code}
        failure = Failure(status, error, dict(headers or {}))
        self._failures.setdefault(path, []).extend([failure] * times)

    def routes(self, app: web.Application) -> None:
        """Adds OpenAI's endpoints, under the base path `/v1` as on api.openai.com."""
        app.add_routes(
            [
                web.get("/v1/models", self._models),
                web.post("/v1/images/generations", self._generate),
                web.post("/v1/images/edits", self._edit),
                web.post("/v1/audio/speech", self._speech),
                web.post("/v1/audio/transcriptions", self._transcribe),
                web.post("/v1/chat/completions", self._chat),
                web.get("/files/{name}", self._files),
            ]
        )

    @property
    def base_url(self) -> str:
        """The URL to set as `OPENAI_BASE_URL`."""
        return f"{self.url}/v1"

    def _refusal(self, request: web.Request) -> web.Response | None:
        """The response of a call that fails: a wrong key (401) or a failure set by `fail`."""
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            # Worse than OpenAI, which masks the key it echoes: the provider must scrub it.
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            return _error(
                401, f"Incorrect API key provided: {given}.", "invalid_request_error", "invalid_api_key"
            )
        queued = self._failures.get(request.path.removeprefix("/v1"))
        if queued:
            failure = queued.pop(0)
            body = {"error": dict(failure.error)}
            return web.json_response(body, status=failure.status, headers=dict(failure.headers))
        return None

    async def _models(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        names = [
            "gpt-image-1",
            "dall-e-3",
            "dall-e-2",
            "tts-1",
            "tts-1-hd",
            "whisper-1",
            "gpt-4o",
            "gpt-4o-mini",
        ]
        data = [
            {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "openai"} for name in names
        ]
        return web.json_response({"object": "list", "data": data})

    def _image_answer(self, model: str, prompt: str, size: str, response_format: str) -> web.Response:
        width, height = (int(n) for n in size.split("x"))
        picture = png(width, height, f"{model}:{prompt}")
        answer: dict[str, object] = {"created": int(time.time())}
        if model.startswith("gpt-image") or response_format == "b64_json":
            answer["data"] = [{"b64_json": base64.b64encode(picture).decode()}]
        else:
            name = f"img-{len(self.files)}.png"
            self.files[name] = picture
            answer["data"] = [{"url": f"{self.url}/files/{name}", "revised_prompt": prompt}]
        if model.startswith("gpt-image"):
            tokens = len(prompt) // 4 + 1
            answer["usage"] = {"input_tokens": tokens, "output_tokens": 1056, "total_tokens": tokens + 1056}
        return web.json_response(answer)

    def _check_image(self, model: str, prompt: str, size: str) -> web.Response | None:
        if model not in IMAGE_SIZES:
            return _error(400, f"Invalid model {model}.", "invalid_request_error", "invalid_value")
        if size not in IMAGE_SIZES[model]:
            message = f"Invalid size '{size}'. Supported sizes are {', '.join(IMAGE_SIZES[model])}."
            return _error(400, message, "invalid_request_error", "invalid_size")
        if _CONTENT_WORD in prompt:
            message = "Your request was rejected as a result of our safety system."
            code = "moderation_blocked" if model.startswith("gpt-image") else "content_policy_violation"
            return _error(400, message, "image_generation_user_error", code)
        return None

    async def _generate(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        body = await request.json()
        model, prompt, size = str(body.get("model")), str(body.get("prompt", "")), str(body.get("size"))
        wrong = self._check_image(model, prompt, size)
        if wrong is not None:
            return wrong
        if not await self._drawing(request):
            return web.Response(status=499)  # nobody is listening any more
        return self._image_answer(model, prompt, size, str(body.get("response_format", "url")))

    async def _drawing(self, request: web.Request) -> bool:
        """Takes `image_delay_s` to draw, as OpenAI takes seconds; False (and the path recorded in
        `aborted`) when the client hangs up meanwhile."""
        deadline = time.monotonic() + self.image_delay_s
        while time.monotonic() < deadline:
            if request.transport is None or request.transport.is_closing():
                self.aborted.append(request.path)
                return False
            await asyncio.sleep(0.01)
        return True

    async def _edit(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        form = await _form(request)
        image = form.get("image")
        if image is None or not image.filename:
            return _error(400, "Missing required parameter: 'image'.", "invalid_request_error", "missing")
        model, prompt, size = (form[k].text() if k in form else "" for k in ("model", "prompt", "size"))
        wrong = self._check_image(model, prompt, size)
        if wrong is not None:
            return wrong
        seed = hashlib.sha256(image.data).hexdigest()
        response_format = form["response_format"].text() if "response_format" in form else "url"
        return self._image_answer(model, f"{prompt}:{seed}", size, response_format)

    async def _files(self, request: web.Request) -> web.Response:
        picture = self.files.get(request.match_info["name"])
        if picture is None:
            return web.Response(status=404, text="no such file")
        return web.Response(body=picture, content_type="image/png")

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        body = await request.json()
        fmt, voice, text = (
            str(body.get("response_format", "mp3")),
            body.get("voice"),
            str(body.get("input", "")),
        )
        if fmt not in SPEECH_FORMATS or voice not in VOICES or len(text) > 4096:
            return _error(400, "Invalid speech request.", "invalid_request_error", "invalid_value")
        seconds = len(text) * SPEECH_SECONDS_PER_CHARACTER / float(body.get("speed", 1.0))
        audio = await encode_speech(tone_pcm(seconds), fmt)
        response = web.StreamResponse(headers={"Content-Type": SPEECH_FORMATS[fmt]})
        await response.prepare(request)
        total = self.speech_bytes or len(audio)
        sent = 0
        try:
            while sent < total:
                piece = audio[sent % len(audio) :][: min(_SPEECH_CHUNK, total - sent)]
                await response.write(piece)
                sent += len(piece)
                await asyncio.sleep(self.delay_s)
        except (ConnectionResetError, asyncio.CancelledError):
            self.aborted.append(request.path)
            raise
        await response.write_eof()
        self.completed.append(request.path)
        return response

    async def _transcribe(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        form = await _form(request)
        audio, model = form.get("file"), form.get("model")
        if audio is None or not audio.filename or model is None or model.text() != "whisper-1":
            return _error(400, "Invalid transcription request.", "invalid_request_error", "invalid_value")
        if audio.filename.rpartition(".")[2] not in _AUDIO_EXTENSIONS:
            message = f"Unrecognized file format. Supported formats: {sorted(_AUDIO_EXTENSIONS)}"
            return _error(400, message, "invalid_request_error", "invalid_value")
        seconds = _seconds(audio.data)
        return web.json_response({"text": self.transcript, "usage": {"type": "duration", "seconds": seconds}})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        body = await request.json()
        last = str(body["messages"][-1]["content"])
        words = (self.answer or f"You said: {last}").split(" ")
        usage = {"prompt_tokens": len(last) // 4 + 1, "completion_tokens": len(words)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": " ".join(words)},
                "finish_reason": "stop",
            }
            return web.json_response(
                {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for index, word in enumerate(words):
                if self.cut_after and index == self.cut_after and request.transport is not None:
                    request.transport.close()
                    return response
                delta = {"content": word if index == 0 else f" {word}"}
                await self._event(response, base, [{"index": 0, "delta": delta, "finish_reason": None}])
                await asyncio.sleep(self.delay_s)
            await self._event(response, base, [{"index": 0, "delta": {}, "finish_reason": "stop"}])
            await self._event(response, base, [], usage)
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            self.aborted.append(request.path)
            raise
        await response.write_eof()
        self.completed.append(request.path)
        return response

    @staticmethod
    async def _event(
        response: web.StreamResponse, base: Mapping[str, object], choices: list[object], usage: object = None
    ) -> None:
        chunk = {**base, "object": "chat.completion.chunk", "choices": choices, "usage": usage}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
