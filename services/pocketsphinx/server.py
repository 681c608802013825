"""PocketSphinx speech recognition over plain HTTP: POST a WAV to /transcribe, get JSON text back.

`GET /health` answers 200 (the model is loaded before the port opens). `POST /transcribe` takes a
multipart/form-data body whose `audio` field is a PCM WAV file (any rate, any channel count) and
answers `{"text": ..., "duration_s": ...}`; errors are `{"error": ...}` with a 4xx status. It binds
127.0.0.1 (the container runs on the host network) on the port in `PORT`.
"""

import io
import json
import logging
import os
import signal
import threading
import wave
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import numpy.typing as npt
from pocketsphinx import Decoder

__all__ = ["AudioError", "Handler", "Recognizer", "audio_field", "main", "pcm16k"]

LOG = logging.getLogger("pocketsphinx-service")
SAMPLE_RATE = 16_000
MAX_BODY_BYTES = 200 * 1024 * 1024
_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}


class AudioError(ValueError):
    """The request holds no audio this service can decode."""


def pcm16k(data: bytes) -> npt.NDArray[np.int16]:
    """A PCM WAV file as mono 16-bit samples at SAMPLE_RATE (linear interpolation: enough for speech).

    Raises:
        AudioError: The data is not a PCM WAV file of 8, 16 or 32-bit samples.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"not a PCM WAV file: {exc or type(exc).__name__}") from exc
    if width not in _DTYPES:
        raise AudioError(f"unsupported WAV sample width: {width * 8} bit")
    raw = np.frombuffer(frames, dtype=np.dtype(_DTYPES[width]).newbyteorder("<")).astype(np.float64)
    if width == 1:
        raw = (raw - 128.0) * 256.0
    elif width == 4:
        raw = raw / 65536.0
    if channels > 1:
        raw = raw[: len(raw) - len(raw) % channels].reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE and len(raw) > 1:
        count = round(len(raw) * SAMPLE_RATE / rate)
        raw = np.interp(np.linspace(0, len(raw) - 1, count), np.arange(len(raw)), raw)
    return np.clip(raw, -32768, 32767).astype(np.int16)


def audio_field(content_type: str, body: bytes) -> bytes:
    """The `audio` file of a multipart/form-data body.

    Raises:
        AudioError: The body is not multipart/form-data or has no `audio` field.
    """
    if not content_type.lower().startswith("multipart/form-data"):
        raise AudioError(f"send multipart/form-data with an `audio` file, not {content_type or 'no type'}")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "audio":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload
    raise AudioError("the form has no `audio` file")


class Recognizer:
    """One PocketSphinx decoder with the US English model shipped in the wheel."""

    def __init__(self) -> None:
        """Loads the model (~0.5 s)."""
        self._decoder = Decoder(samprate=SAMPLE_RATE)
        # A decoder is not thread-safe: one utterance at a time.
        self._lock = threading.Lock()

    def transcribe(self, samples: npt.NDArray[np.int16]) -> str:
        """The words heard in 16 kHz mono samples ("" for silence)."""
        with self._lock:
            # The front end adapts to what it hears (noise estimate, cepstral mean): start afresh
            # so that a transcript depends on its own audio only, not on the requests before it.
            self._decoder.reinit_feat()
            self._decoder.start_utt()
            self._decoder.process_raw(samples.tobytes(), full_utt=True)
            self._decoder.end_utt()
            hypothesis = self._decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""


class Handler(BaseHTTPRequestHandler):
    """GET /health and POST /transcribe."""

    recognizer: Recognizer
    server_version = "prizm-pocketsphinx/1.0"
    # Seconds a connection may stall (a client that stops sending) before its thread gives up.
    timeout = 60

    def _answer(self, status: HTTPStatus, payload: dict[str, object]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        """Health: 200 (the server only listens once the model is loaded)."""
        if self.path == "/health":
            self._answer(HTTPStatus.OK, {"status": "ok"})
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})

    def do_POST(self) -> None:
        """Transcribes the `audio` WAV of a form."""
        if self.path != "/transcribe":
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._answer(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length is required"})
            return
        if int(length) > MAX_BODY_BYTES:
            self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"over {MAX_BODY_BYTES} bytes"})
            return
        body = self.rfile.read(int(length))
        try:
            samples = pcm16k(audio_field(self.headers.get("Content-Type", ""), body))
            text = self.recognizer.transcribe(samples)
        except AudioError as exc:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        except Exception:
            # An answer, not a dropped connection: the caller learns the service failed.
            LOG.exception("transcription failed")
            self._answer(
                HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "transcription failed; see the service's log"}
            )
            return
        self._answer(HTTPStatus.OK, {"text": text, "duration_s": round(len(samples) / SAMPLE_RATE, 3)})

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Logs a request, but not a health check that passed: Prizm asks every few seconds."""
        if self.path != "/health" or code != HTTPStatus.OK:
            super().log_request(code, size)

    def log_message(self, format: str, *args: object) -> None:
        """Request lines go to the log, not straight to stderr."""
        LOG.info(format, *args)


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def main() -> None:
    """Loads the model, then serves on 127.0.0.1:$PORT until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # As a container's PID 1 the process gets no default SIGTERM action: without a handler,
    # `docker stop` would wait its whole grace period and then kill.
    signal.signal(signal.SIGTERM, _stop)
    Handler.recognizer = Recognizer()
    with ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler) as server:
        LOG.info("model loaded; listening on 127.0.0.1:%d", server.server_address[1])
        server.serve_forever()


if __name__ == "__main__":
    main()
