"""The `prizm` command and `make run`'s script, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.test_round_trip import SENTENCE, wav_seconds
from tests.support.mesh import recognised_words, wait_routable
from tests.support.processes import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def prizm(*args: str, router: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs `prizm ARGS` and returns what it printed."""
    env = {**os.environ, "PRIZM_ROUTER": router} if router else dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "prizm_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


async def test_run_speaks_to_a_file_and_transcribes_it_back(mesh: ServerProcess, tmp_path: Path) -> None:
    await wait_routable(mesh.address, 3)
    wav = tmp_path / "speech.wav"
    spoken = prizm("run", "text-to-audio", SENTENCE, "-o", str(wav), router=mesh.address)
    assert spoken.returncode == 0, spoken.stderr
    assert wav_seconds(wav.read_bytes()) >= 1.0
    assert "piper/en_US-joe-medium" in spoken.stderr
    heard = prizm("run", "audio-to-text", str(wav), "--router", mesh.address)
    assert heard.returncode == 0, heard.stderr
    assert recognised_words(SENTENCE, heard.stdout) >= 6, heard.stdout


async def test_options_reach_the_model(mesh: ServerProcess, tmp_path: Path) -> None:
    await wait_routable(mesh.address, 3)
    normal, fast = tmp_path / "normal.wav", tmp_path / "fast.wav"
    assert prizm("run", "text-to-audio", SENTENCE, "-o", str(normal), router=mesh.address).returncode == 0
    done = prizm(
        "run", "text-to-audio", SENTENCE, "-o", str(fast), "--option", "speed=2", router=mesh.address
    )
    assert done.returncode == 0, done.stderr
    assert wav_seconds(fast.read_bytes()) < 0.8 * wav_seconds(normal.read_bytes())


async def test_listing_commands_show_the_mesh(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    providers = json.loads(prizm("providers", "--json", router=mesh.address).stdout)
    assert {p["provider"]["id"] for p in providers} == {"piper", "pocketsphinx", "synthetic"}
    assert {p["state"] for p in providers} == {"ENDPOINT_STATE_SERVING"}
    models = json.loads(
        prizm("models", "--capability", "audio-to-text", "--json", router=mesh.address).stdout
    )
    assert [(m["providerId"], m["id"]) for m in models] == [("pocketsphinx", "en-us")]
    table = prizm("models", router=mesh.address).stdout
    assert "en_US-joe-medium" in table and "speed" in table


async def test_errors_are_one_clear_line_with_the_reason(mesh: ServerProcess, tmp_path: Path) -> None:
    await wait_routable(mesh.address, 3)
    missing = prizm("run", "text-to-3d", "a teapot", router=mesh.address)
    assert missing.returncode == 1
    assert "FAILED_PRECONDITION NO_PROVIDER_FOR_CAPABILITY" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = prizm(
        "run",
        "text-to-audio",
        "hi",
        "--option",
        "speed=9",
        "-o",
        str(tmp_path / "x.wav"),
        router=mesh.address,
    )
    assert bad.returncode == 1 and "options.speed: must be at most 2" in bad.stderr
    assert not (tmp_path / "x.wav").exists(), "a failed job leaves no partial file"
    nowhere = prizm("providers", router="127.0.0.1:1", timeout=60)
    assert nowhere.returncode == 1 and "prizm up" in nowhere.stderr
    unknown = prizm("run", "text-to-smell", "roses", router=mesh.address)
    assert unknown.returncode == 1 and "UNKNOWN_CAPABILITY" in unknown.stderr


def test_make_run_script_speaks_and_transcribes(tmp_path: Path) -> None:
    """What `make run` does: the embedded default mesh, a sentence out and back, a clean stop."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "demo.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OUT": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    transcript = next(line for line in done.stdout.splitlines() if line.startswith("transcribed:"))
    assert recognised_words(SENTENCE, transcript) >= 6, transcript
    assert "piper/en_US-joe-medium" in done.stdout + done.stderr, "the neural voice speaks, not espeak"
    assert wav_seconds((tmp_path / "speech.wav").read_bytes()) >= 1.0
    assert "mesh stopped cleanly" in done.stdout
