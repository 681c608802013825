"""The `prizm` command and `make run`'s script, run as a user would."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from prizm_core.client import PrizmClient
from tests.integration.test_round_trip import SENTENCE, wav_seconds
from tests.support.ffmedia import make_file
from tests.support.media import speech_wav
from tests.support.mesh import recognised_words, settled, wait_routable, wait_until
from tests.support.processes import ServerProcess, router_for

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "127.0.0.1:1"  # nothing listens on port 1


def env_for(router: str | None, **extra: str) -> dict[str, str]:
    """The environment for `prizm`: this one, with `PRIZM_ROUTER` and `extra` set."""
    env = {**os.environ, **extra}
    if router:
        env["PRIZM_ROUTER"] = router
    return env


def prizm(
    *args: str,
    router: str | None = None,
    timeout: float = 120,
    stdin: bytes | str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Runs `prizm ARGS` (the router from `PRIZM_ROUTER`) and returns what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "prizm_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or env_for(router),
        input=stdin.decode("latin-1") if isinstance(stdin, bytes) else stdin,
        check=False,
    )


def prizm_bytes(*args: str, router: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Runs `prizm ARGS` with binary stdin and stdout."""
    return subprocess.run(
        [sys.executable, "-m", "prizm_core.cli", *args],
        capture_output=True,
        timeout=120,
        env=env_for(router),
        input=stdin,
        check=False,
    )


@pytest.fixture(scope="module")
def media_router(
    tmp_path_factory: pytest.TempPathFactory, ffmpeg: ServerProcess, pocketsphinx: ServerProcess
) -> Iterator[ServerProcess]:
    """A router with the ffmpeg and pocketsphinx providers: models with a `format` option."""
    with router_for(tmp_path_factory.mktemp("cli-media"), ffmpeg, pocketsphinx) as router:
        yield router


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


async def test_stdin_in_and_stdout_out_carry_text_and_bytes(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    spoken = prizm_bytes("run", "text-to-audio", "-", "-o", "-", router=mesh.address, stdin=SENTENCE.encode())
    assert spoken.returncode == 0, spoken.stderr
    assert spoken.stdout[:4] == b"RIFF" and wav_seconds(spoken.stdout) >= 1.0
    heard = prizm_bytes("run", "audio-to-text", "-", router=mesh.address, stdin=spoken.stdout)
    assert heard.returncode == 0, heard.stderr
    assert recognised_words(SENTENCE, heard.stdout.decode()) >= 6, heard.stdout


async def test_run_json_is_the_result_with_paths_hashes_and_provenance(
    mesh: ServerProcess, tmp_path: Path
) -> None:
    await wait_routable(mesh.address, 3)
    wav = tmp_path / "speech.wav"
    done = prizm("run", "text-to-audio", SENTENCE, "-o", str(wav), "--json", router=mesh.address)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    [output] = result["outputs"]
    assert output["path"] == str(wav) and output["kind"] == "audio"
    assert output["sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
    assert output["sizeBytes"] == wav.stat().st_size
    assert (output["provenance"]["providerId"], output["provenance"]["modelId"]) == (
        "piper",
        "en_US-joe-medium",
    )
    assert output["provenance"]["options"]["speed"] == 1
    assert all("MEDIA_UNIT" not in amount["unit"] for amount in result["usage"])
    heard = json.loads(prizm("run", "audio-to-text", str(wav), "--json", router=mesh.address).stdout)
    assert recognised_words(SENTENCE, heard["outputs"][0]["text"]) >= 6


async def test_listing_commands_show_the_mesh_by_the_clis_names(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    providers = json.loads(prizm("providers", "--json", router=mesh.address).stdout)
    assert {p["provider"]["id"] for p in providers} == {"piper", "pocketsphinx", "synthetic"}
    assert {p["state"] for p in providers} == {"serving"}
    assert {p["source"] for p in providers} == {"static"}
    assert all(p["inFlight"] == 0 for p in providers), "zero values are kept"
    models = json.loads(
        prizm("models", "--capability", "audio-to-text", "--json", router=mesh.address).stdout
    )
    assert [(m["providerId"], m["id"], m["capabilities"]) for m in models] == [
        ("pocketsphinx", "en-us", ["audio-to-text"])
    ]
    table = prizm("models", router=mesh.address).stdout
    assert "en_US-joe-medium" in table and "speed" in table


async def test_one_model_shows_each_option_with_type_default_bounds_and_description(
    mesh: ServerProcess,
) -> None:
    await wait_routable(mesh.address, 3)
    shown = prizm("models", "en_US-joe-medium", router=mesh.address, env=env_for(mesh.address, COLUMNS="200"))
    assert shown.returncode == 0, shown.stderr
    speed = next(line for line in shown.stdout.splitlines() if line.strip().startswith("speed"))
    assert speed.split()[:4] == ["speed", "number", "1", "0.5…2"], speed
    assert "Rate as a multiplier of the normal one" in speed
    missing = prizm("models", "en_US-joe-medum", router=mesh.address)
    assert missing.returncode == 1
    assert (
        "NOT_FOUND MODEL_NOT_FOUND" in missing.stderr and "did you mean en_US-joe-medium?" in missing.stderr
    )


async def test_errors_are_one_clear_line_per_problem_with_the_reason(
    mesh: ServerProcess, tmp_path: Path
) -> None:
    await wait_routable(mesh.address, 3)
    missing = prizm("run", "text-to-3d", "a teapot", router=mesh.address)
    assert missing.returncode == 1
    assert "FAILED_PRECONDITION NO_PROVIDER_FOR_CAPABILITY" in missing.stderr
    assert "Traceback" not in missing.stderr
    out = tmp_path / "x.wav"
    bad = prizm("run", "text-to-audio", "hi", "--option", "speed=9", "-o", str(out), router=mesh.address)
    assert bad.returncode == 1
    [line] = bad.stderr.strip().splitlines()  # one problem, one line: no field line repeated
    assert line.startswith("error: INVALID_ARGUMENT INVALID_OPTIONS: options.speed: ")
    assert line.endswith("must be at most 2")
    assert not out.exists(), "a failed job leaves no partial file"
    typo = prizm("run", "text-to-audio", "hi", "--option", "sped=1.5", router=mesh.address)
    assert typo.returncode == 1 and "options.sped" in typo.stderr and "did you mean speed?" in typo.stderr
    unknown = prizm("run", "text-to-audoi", "hello", router=mesh.address)
    assert unknown.returncode == 1 and "UNKNOWN_CAPABILITY" in unknown.stderr
    assert "did you mean text-to-audio" in unknown.stderr


async def test_router_flag_works_before_and_after_the_subcommand(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    dead_env = env_for(NOWHERE)  # the flag wins over PRIZM_ROUTER, wherever it stands
    before = prizm("--router", mesh.address, "providers", "--json", env=dead_env)
    after = prizm("providers", "--json", "--router", mesh.address, env=dead_env)
    for done in (before, after):
        assert done.returncode == 0, done.stderr
        assert {p["provider"]["id"] for p in json.loads(done.stdout)} == {
            "piper",
            "pocketsphinx",
            "synthetic",
        }


async def test_the_output_extension_chooses_the_format_or_is_refused_before_the_job(
    media_router: ServerProcess, tmp_path: Path
) -> None:
    await wait_routable(media_router.address, 2)
    speech = tmp_path / "speech.wav"
    speech.write_bytes(speech_wav())
    starts = {"mp3": (b"ID3", b"\xff\xfb", b"\xff\xf3"), "flac": (b"fLaC",), "ogg": (b"OggS",)}
    for extension, magic in starts.items():
        out = tmp_path / f"speech.{extension}"
        done = prizm(
            "run", "audio-to-audio", str(speech), "-o", str(out), "--json", router=media_router.address
        )
        assert done.returncode == 0, done.stderr
        assert out.read_bytes().startswith(magic), extension
        assert json.loads(done.stdout)["outputs"][0]["provenance"]["options"]["format"] == extension
    refused = prizm(
        "run", "audio-to-audio", str(speech), "-o", str(tmp_path / "s.aiff"), router=media_router.address
    )
    assert refused.returncode == 2
    assert "no model here writes .aiff files; use one of .flac, .mp3, .ogg, .wav" in refused.stderr
    clash = prizm(
        "run", "audio-to-audio", str(speech), "-o", str(tmp_path / "s.mp3"), "--option", "format=ogg",
        router=media_router.address,
    )  # fmt: skip
    assert clash.returncode == 2 and "--option format=ogg disagrees with -o" in clash.stderr
    assert not (tmp_path / "s.aiff").exists() and not (tmp_path / "s.mp3").exists()


async def test_convert_shows_each_step_and_answers_in_json(
    media_router: ServerProcess, tmp_path: Path
) -> None:
    await wait_routable(media_router.address, 2)
    speech, video = tmp_path / "speech.wav", tmp_path / "talk.mp4"
    speech.write_bytes(speech_wav())
    make_file(
        video, "-f", "lavfi", "-i", "color=c=navy:size=160x120:rate=10", "-i", str(speech),
        "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
    )  # fmt: skip
    done = prizm("convert", str(video), "--to", "text", "--json", router=media_router.address)
    assert done.returncode == 0, done.stderr
    assert "step 1/2 video-to-audio" in done.stderr and "step 2/2 audio-to-text" in done.stderr
    result = json.loads(done.stdout)
    assert result["via"] == ["video-to-audio", "audio-to-text"]
    assert result["outputs"][0]["provenance"]["providerId"] == "pocketsphinx"
    assert recognised_words(SENTENCE, result["outputs"][0]["text"]) >= 6


async def test_ctrl_c_prints_one_cancelled_line_and_cancels_the_job(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    running = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "prizm_core.cli", "run", "text-to-text", "hello"),
        *("--option", "events=600", "--option", "interval_ms=100"),
        env=env_for(mesh.address),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with PrizmClient(mesh.address) as client:

        async def busy() -> bool:
            return any(e.in_flight for e in await client.list_providers())

        await wait_until(busy, timeout=30, interval=0.1)
        running.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(running.communicate(), timeout=30)
        assert running.returncode == 130
        assert err.decode().splitlines() == ["cancelled"], err.decode()
        assert out == b""
        await settled(client)


async def test_tables_fit_80_columns(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    for command in (["models"], ["providers"], ["models", "en_US-joe-medium"]):
        shown = prizm(*command, env=env_for(mesh.address, COLUMNS="80"))
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80, shown.stdout
    names = prizm("models", env=env_for(mesh.address, COLUMNS="80")).stdout
    assert "en_US-joe-medium" in names and "pocketsphinx" in names, "names are never folded"


def bash_script(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run(
        [bash, "-c", script], capture_output=True, text=True, timeout=60, env=env, check=False
    )


async def test_a_broken_pipe_exits_quietly(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    cli = f"{sys.executable} -m prizm_core.cli"
    for listing in ("models", "models --json", "providers"):
        # `true` reads nothing and is gone before prizm writes: every write meets a closed pipe.
        done = bash_script(f"{cli} {listing} | true", env_for(mesh.address))
        assert done.stderr == "", done.stderr


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
