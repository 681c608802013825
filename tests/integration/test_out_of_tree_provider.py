"""A provider from outside the repository (tests/fixtures/prizm-sox-effects), as its author would
ship it: installed into an environment of its own, type-checked strictly, run through the contract
suite, and routed to by a real router."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from prizm_core.client import PrizmClient
from prizm_core.installed.venvs import create_venv
from prizm_core.options import OptionValue
from tests.support.ffmedia import TONE_HZ, audio_asset, decode_audio, dominant_hz, sample_audio
from tests.support.mesh import client_of
from tests.support.processes import ServerProcess, router_for, start_server

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "prizm-sox-effects"
# Installing, type-checking and the contract run each take seconds to tens of seconds on a busy box.
STEP_TIMEOUT_S = 300


@dataclass(frozen=True)
class Environment:
    """A throwaway virtual environment with the fixture installed, and the copy it was built from."""

    python: Path
    source: Path


def _run(command: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(part) for part in command]
    return subprocess.run(argv, check=False, cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    """`python -m venv`, Prizm made visible to it, then `pip install` of the fixture: no network."""
    folder = tmp_path_factory.mktemp("out-of-tree")
    # Prizm and its dependencies as installed here, as `prizm provider add` makes an environment.
    python = create_venv(folder / "venv")
    # Built from a copy, so that the build leaves nothing in the repository.
    source = Path(shutil.copytree(FIXTURE, folder / "prizm-sox-effects"))
    installed = _run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", source],
        folder,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return Environment(python=python, source=source)


_ENROLMENT = """
from importlib.metadata import entry_points
import prizm_sox_effects
for group in ("prizm.providers", "prizm.contract"):
    print(group, sorted(point.name for point in entry_points(group=group)))
print(prizm_sox_effects.__file__)
"""


def test_the_package_installs_apart_and_enrols_by_its_entry_points(environment: Environment) -> None:
    found = _run([environment.python, "-c", _ENROLMENT], REPO)
    *groups, where = found.stdout.splitlines()
    for line in groups:
        assert "'sox-effects'" in line and "'synthetic'" in line, line
    # Imported from the environment it was installed into, not from the repository.
    assert Path(where).is_relative_to(environment.python.parents[1]), where


def test_it_passes_mypy_strict_against_the_installed_sdk(environment: Environment) -> None:
    checked = _run(
        [
            sys.executable,
            *("-m", "mypy", "--python-executable", environment.python),
            *("--cache-dir", environment.source / ".mypy_cache"),
            "prizm_sox_effects",
        ],
        environment.source,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found in 5 source files" in checked.stdout


def test_it_passes_the_contract_plugin(environment: Environment) -> None:
    done = _run(
        [
            environment.python,
            *("-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("-c", environment.source / "pyproject.toml", "--rootdir", environment.source),
            *("-p", "provider_servers.contract.plugin", "--prizm-provider", "sox-effects"),
            *("--pyargs", "provider_servers.contract.suite"),
        ],
        environment.source,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # Ten checks on its one case, and one that it declares a case for every model.
    assert re.search(r"\b11 passed\b", output) and "failed" not in output, output
    assert "sox-effects" not in _skipped(output), output


def _skipped(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if "SKIP" in line)


@pytest.fixture(scope="module")
def sox_server(environment: Environment) -> Iterator[ServerProcess]:
    """The fixture's provider, served by its own environment's Python."""
    serve = ["serve-provider", "sox-effects", "--port", "0"]
    server = start_server([str(environment.python), "-m", "prizm_core.cli", *serve])
    yield server
    server.stop()


@pytest.fixture
async def client(tmp_path: Path, sox_server: ServerProcess) -> AsyncIterator[PrizmClient]:
    """A client of a router whose only provider is the fixture's."""
    with router_for(tmp_path, sox_server) as router:
        async with client_of(router.address, 1) as client:
            yield client


async def test_a_router_routes_a_job_to_it(client: PrizmClient) -> None:
    options: dict[str, OptionValue] = {
        "pitch_semitones": -12.0,
        "speed": 0.5,
        "effect": "echo",
        "format": "flac",
    }
    # 3 s of 440 Hz in, through the router, which knows the provider only from its catalog.
    result = await client.run("audio-to-audio", audio_asset(sample_audio()), options=options, timeout=60)
    (output,) = result.outputs
    assert output.provenance.provider_id == "sox-effects" and output.mime_type == "audio/flac"
    assert output.data is not None and output.data.startswith(b"fLaC")
    samples = decode_audio(output.data)
    # Twice as long (speed 0.5), plus the quarter second of the echo's tail, and an octave lower.
    assert abs(len(samples) / 16000 - 6.25) < 0.05, len(samples) / 16000
    assert abs(dominant_hz(samples) - TONE_HZ / 2) < 5, dominant_hz(samples)
