"""The container services of `services/`, built and run from their manifests and used over their own
APIs: Piper as a Cog model speaks, PocketSphinx over plain HTTP hears what it said. (Through the
router, with the adapters: test_services_e2e.py.)"""

from __future__ import annotations

import base64
import io
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import numpy as np
import pytest

from prizm_core.services.lifecycle import ServiceContainer
from prizm_core.services.manifest import MANIFEST_FILE, load_manifest

pytestmark = pytest.mark.docker

SERVICES = Path(__file__).resolve().parents[2] / "services"
SPEECH = "Hello world. The quick brown fox jumps over the lazy dog."


def _running(name: str, client: docker.DockerClient) -> Iterator[ServiceContainer]:
    """The service of `services/NAME`, its image built when missing, healthy; removed after."""
    service = ServiceContainer(load_manifest(SERVICES / name / MANIFEST_FILE), client=client)
    service.ensure_image(print)
    service.start(print)
    try:
        service.wait_healthy(None, print)
        yield service
    finally:
        service.stop()
    assert service.status().state == "missing"


@pytest.fixture(scope="module")
def piper(docker_client: docker.DockerClient) -> Iterator[ServiceContainer]:
    """services/piper: Piper as a Cog model, its setup done."""
    for service in _running("piper", docker_client):
        # Cog answers its health check with 200 while setup still runs: READY in the body says done
        # (the Cog adapter reads it the same way).
        _ready(service)
        yield service


@pytest.fixture(scope="module")
def pocketsphinx(docker_client: docker.DockerClient) -> Iterator[ServiceContainer]:
    """services/pocketsphinx: PocketSphinx over plain HTTP."""
    yield from _running("pocketsphinx", docker_client)


def _ready(piper: ServiceContainer) -> None:
    """Waits until Cog is READY: it may answer a prediction before its slot is free again (BUSY),
    and refuses the next one in that moment ("At capacity")."""
    deadline = time.monotonic() + 60
    while httpx.get(f"{piper.url}/health-check", timeout=10).json()["status"] != "READY":
        assert time.monotonic() < deadline, "Cog was not READY within 60 s"
        time.sleep(0.05)


def _predict(piper: ServiceContainer, **inputs: object) -> httpx.Response:
    _ready(piper)
    return httpx.post(f"{piper.url}/predictions", json={"input": inputs}, timeout=120)


def _wav(prediction: dict[str, str]) -> bytes:
    """The WAV of a prediction's output, a data URL (Cog inlines files when it has no upload URL)."""
    header, _, data = prediction["output"].partition(",")
    assert header == "data:audio/wav;base64"
    return base64.b64decode(data)


def _seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 22050)
        return float(audio.getnframes() / audio.getframerate())


@pytest.fixture(scope="module")
def speech(piper: ServiceContainer) -> bytes:
    """SPEECH as Piper says it."""
    reply = _predict(piper, text=SPEECH)
    assert reply.status_code == 200, reply.text
    prediction = reply.json()
    assert prediction["status"] == "succeeded"
    # One progress line per sentence, which the Cog adapter relays as progress.
    assert prediction["logs"].splitlines() == ["sentence 1/2 (50%)", "sentence 2/2 (100%)"]
    return _wav(prediction)


def test_piper_speaks_a_wav_of_a_plausible_length(speech: bytes) -> None:
    # Eleven words at a normal pace, and 0.2 s of silence after each of the two sentences.
    assert 2.5 < _seconds(speech) < 7.0


def test_piper_speaks_faster_at_a_higher_speed(piper: ServiceContainer) -> None:
    # Without the fixed silence after each sentence, only the speech is compared: Piper's length
    # scale is 1 / speed, a factor of 4 here, though its sampled phoneme durations vary from run to
    # run (2.70-2.96 over six pairs measured here), so the check leaves room for that.
    slow, fast = (
        _wav(_predict(piper, text=SPEECH, speed=speed, sentence_silence=0.0).json()) for speed in (0.5, 2.0)
    )
    assert _seconds(fast) < _seconds(slow) / 2.0


def test_piper_publishes_its_schema_and_refuses_an_input_out_of_bounds(piper: ServiceContainer) -> None:
    schema = httpx.get(f"{piper.url}/openapi.json", timeout=10).json()
    speed = schema["components"]["schemas"]["Input"]["properties"]["speed"]
    assert (speed["minimum"], speed["maximum"], speed["default"]) == (0.5, 2.0, 1.0)
    refused = _predict(piper, text=SPEECH, speed=5)
    assert refused.status_code == 422
    assert "speed" in refused.text


def test_piper_fails_a_prediction_of_text_with_nothing_to_say(piper: ServiceContainer) -> None:
    prediction = _predict(piper, text=" ... ").json()
    assert prediction["status"] == "failed"
    assert "text has nothing to speak" in prediction["error"]


def _stereo_44k(wav: bytes) -> bytes:
    """The speech as a 44.1 kHz stereo WAV, as a caller might send it."""
    with wave.open(io.BytesIO(wav)) as audio:
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
    count = round(len(samples) * 44100 / 22050)
    upsampled = np.interp(np.linspace(0, len(samples) - 1, count), np.arange(len(samples)), samples)
    stereo = np.repeat(upsampled.astype(np.int16), 2)
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(44100)
        audio.writeframes(stereo.tobytes())
    return out.getvalue()


@pytest.mark.parametrize("as_sent", ["as spoken", "44.1 kHz stereo"])
def test_pocketsphinx_hears_what_piper_said(
    pocketsphinx: ServiceContainer, speech: bytes, as_sent: str
) -> None:
    wav = speech if as_sent == "as spoken" else _stereo_44k(speech)
    reply = httpx.post(
        f"{pocketsphinx.url}/transcribe", files={"audio": ("speech.wav", wav, "audio/wav")}, timeout=60
    )
    assert reply.status_code == 200, reply.text
    heard = reply.json()
    assert {"world", "quick", "brown", "fox", "lazy", "dog"} <= set(heard["text"].split())
    assert heard["duration_s"] == pytest.approx(_seconds(speech), abs=0.01)


@pytest.mark.parametrize(
    ("files", "status", "error"),
    [
        ({"audio": ("notes.txt", b"not audio", "text/plain")}, 400, "not a PCM WAV file"),
        ({"sound": ("speech.wav", b"RIFF", "audio/wav")}, 400, "the form has no `audio` file"),
    ],
)
def test_pocketsphinx_refuses_what_is_not_a_wav_with_a_reason(
    pocketsphinx: ServiceContainer, files: dict[str, tuple[str, bytes, str]], status: int, error: str
) -> None:
    reply = httpx.post(f"{pocketsphinx.url}/transcribe", files=files, timeout=30)
    assert reply.status_code == status
    assert reply.json()["error"].startswith(error)
