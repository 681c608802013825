"""A test double of ElevenLabs' text-to-speech API, on loopback: voices, streamed speech, errors.

It speaks the documented endpoints (`GET /v1/voices`, `POST /v1/text-to-speech/{voice_id}` and
`.../stream` with `xi-api-key`, `output_format`, `text`, `model_id`, `voice_settings`,
`language_code`, `seed`) and answers as ElevenLabs does, errors as `{"detail": {"status",
"message"}}`. The audio is real: MP3 frames of silence or a WAV (or raw PCM) tone, as long as the
text would take to say at the asked speed. Point a provider at it with
`ELEVENLABS_BASE_URL=fake.url`; set `script` to make it fail, pause or cut the stream.
"""

from __future__ import annotations

import asyncio
import io
import math
import time
import uuid
import wave
from dataclasses import dataclass

import numpy as np
from aiohttp import web

from provider_servers.remote import FakeVendor

__all__ = ["FAKE_VOICES", "MP3_FRAMES", "ElevenLabsFake", "Script", "fake_speech"]

FAKE_VOICES = (("21m00Tcm4TlvDq8ikWAM", "Rachel"), ("JBFqnCBsd6RMkjVDRZzb", "George"))
_MODELS = {"eleven_multilingual_v2", "eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_v3"}
_NO_LANGUAGE_CODE = {"eleven_multilingual_v2"}
# One silent MPEG audio frame per MP3 `output_format`: its 4 header bytes (mono, no CRC), its
# length in bytes and the samples it holds. Zeroed side information decodes as silence.
MP3_FRAMES = {
    "mp3_22050_32": (bytes.fromhex("fff340c0"), 104, 576, 22050),
    "mp3_24000_48": (bytes.fromhex("fff364c0"), 144, 576, 24000),
    "mp3_44100_128": (bytes.fromhex("fffb90c0"), 417, 1152, 44100),
}
_PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
# How long the fake takes to say one character at speed 1 (about 15 characters a second).
SECONDS_PER_CHARACTER = 0.065


@dataclass
class Script:
    """How the fake answers the next text-to-speech calls (set it from the test).

    Attributes:
        status: The HTTP status of the answer; anything but 200 sends an error body instead.
        error: The error's `detail.status`, e.g. `system_busy`.
        retry_after: A `Retry-After` header for the error.
        pieces: How many pieces the audio is written in.
        pause_s: The pause before each piece after the first.
        cut_after: Pieces written before the connection is cut (a failure after acceptance).
        audio_bytes: Send this many bytes of audio (MP3 frames), whatever the text.
    """

    status: int = 200
    error: str = ""
    retry_after: str | None = None
    pieces: int = 4
    pause_s: float = 0.0
    cut_after: int | None = None
    audio_bytes: int = 0


def _detail(status: int, code: str, message: str, retry_after: str | None = None) -> web.Response:
    headers = {"Retry-After": retry_after} if retry_after else None
    return web.json_response({"detail": {"status": code, "message": message}}, status=status, headers=headers)


def _seconds(text: str, speed: float) -> float:
    return max(0.5, len(text) * SECONDS_PER_CHARACTER) / speed


def _tone(seconds: float, rate: int) -> bytes:
    """A 440 Hz tone as 16-bit mono PCM."""
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * math.pi * 440 * t) * 8000).astype("<i2").tobytes()


def fake_speech(text: str, output_format: str, speed: float = 1.0, size: int = 0) -> bytes:
    """The audio the fake sends for `text`: what a test compares the output with.

    Raises:
        KeyError: An `output_format` the fake does not make.
    """
    if output_format in MP3_FRAMES:
        header, length, samples, rate = MP3_FRAMES[output_format]
        frame = header + bytes(length - len(header))
        count = math.ceil(size / length) if size else math.ceil(_seconds(text, speed) * rate / samples)
        return (frame * count)[: size or None]
    kind, _, rate_text = output_format.partition("_")
    rate = int(rate_text) if rate_text.isdigit() and int(rate_text) in _PCM_RATES else 0
    if kind not in ("pcm", "wav") or not rate:
        raise KeyError(output_format)
    pcm = _tone(_seconds(text, speed), rate)
    if kind == "pcm":
        return pcm
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def _refusal(body: dict[str, object], output_format: str, path: str) -> web.Response | None:
    """The error ElevenLabs answers a model, language, speed or format it refuses with, if any."""
    model = body.get("model_id", "eleven_multilingual_v2")
    settings = body.get("voice_settings") or {}
    speed = settings.get("speed", 1.0) if isinstance(settings, dict) else None
    if model not in _MODELS:
        return _detail(400, "model_not_found", f"A model with model ID {model} does not exist.")
    if body.get("language_code") is not None and model in _NO_LANGUAGE_CODE:
        return _detail(400, "unsupported_language", f"Model {model} does not support language_code.")
    if not isinstance(speed, int | float) or not 0.7 <= speed <= 1.2:
        return _detail(400, "invalid_voice_settings", "speed must be between 0.7 and 1.2")
    if output_format.startswith("wav_") and path.endswith("/stream"):
        return _detail(400, "invalid_output_format", "wav is not streamed; use the plain endpoint")
    try:
        fake_speech("x", output_format)
    except KeyError:
        return _detail(400, "invalid_output_format", f"Output format {output_format} is not supported")
    return None


@dataclass
class _Speech:
    voice_id: str
    text: str
    output_format: str
    speed: float


class ElevenLabsFake(FakeVendor):
    """ElevenLabs' text-to-speech API on `127.0.0.1`, accepting one key.

    Attributes:
        api_key: The key it accepts in `xi-api-key`.
        voices: `(voice_id, name)` of the account's voices.
        script: How it answers text-to-speech calls.
        hangups: Text-to-speech streams the client left before their end (a cancel).
        last_piece_at: `time.monotonic()` when the last piece of the last stream was written.
    """

    def __init__(self, api_key: str, voices: tuple[tuple[str, str], ...] = FAKE_VOICES) -> None:
        super().__init__()
        self.api_key = api_key
        self.voices = voices
        self.script = Script()
        self.hangups = 0
        self.last_piece_at: float | None = None

    def routes(self, app: web.Application) -> None:
        """`GET /v1/voices` and both text-to-speech endpoints."""
        app.router.add_get("/v1/voices", self._voices)
        app.router.add_post("/v1/text-to-speech/{voice_id}/stream", self._speak)
        app.router.add_post("/v1/text-to-speech/{voice_id}", self._speak)

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("xi-api-key") != self.api_key:
            return _detail(401, "invalid_api_key", "Invalid API key")
        return None

    async def _voices(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        voices = [{"voice_id": v, "name": n, "category": "premade", "labels": {}} for v, n in self.voices]
        return web.json_response({"voices": voices})

    def _speech(self, request: web.Request, body: object) -> _Speech | web.Response:
        """The call's voice, text, format and speed, or the error ElevenLabs answers it with."""
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
            missing = [{"loc": ["body", "text"], "msg": "Field required", "type": "missing"}]
            return web.json_response({"detail": missing}, status=422)
        voice_id = request.match_info["voice_id"]
        if voice_id not in {v for v, _ in self.voices}:
            return _detail(404, "voice_not_found", f"A voice with voice_id {voice_id} was not found.")
        refusal = _refusal(body, request.query.get("output_format", "mp3_44100_128"), request.path)
        if refusal is not None:
            return refusal
        speed = float((body.get("voice_settings") or {}).get("speed", 1.0))
        return _Speech(voice_id, body["text"], request.query.get("output_format", "mp3_44100_128"), speed)

    async def _speak(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        script = self.script
        if script.status != 200:
            return _detail(script.status, script.error or "error", "The request failed", script.retry_after)
        try:
            body = await request.json()
        except ValueError:
            body = None
        speech = self._speech(request, body)
        if isinstance(speech, web.Response):
            return speech
        audio = fake_speech(speech.text, speech.output_format, speech.speed, script.audio_bytes)
        kind = "audio/mpeg" if speech.output_format.startswith("mp3") else "audio/wav"
        response = web.StreamResponse(
            headers={
                "Content-Type": kind if not speech.output_format.startswith("pcm") else "audio/pcm",
                "x-character-count": str(len(speech.text)),
                "request-id": uuid.uuid4().hex,
            }
        )
        await response.prepare(request)
        await self._write(request, response, audio, script)
        return response

    async def _write(
        self, request: web.Request, response: web.StreamResponse, audio: bytes, script: Script
    ) -> None:
        """Writes the audio in `script.pieces` pieces (at most 256 KiB each), pausing between them."""
        step = min(max(1, math.ceil(len(audio) / max(script.pieces, 1))), 256 * 1024)
        try:
            for index, start in enumerate(range(0, len(audio), step)):
                if script.cut_after is not None and index >= script.cut_after:
                    assert request.transport is not None  # noqa: S101 - open while the handler runs
                    request.transport.close()  # cut mid-body: the client sees the stream break
                    return
                if index and script.pause_s:
                    await asyncio.sleep(script.pause_s)
                await response.write(audio[start : start + step])
                self.last_piece_at = time.monotonic()
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            self.hangups += 1
            raise
