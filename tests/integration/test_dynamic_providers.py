"""Providers added at run time (`prizm provider add`): a package from a folder and from a git tag,
each in its own environment under a throwaway `PRIZM_HOME`, served by `prizm up`, still there after a
restart, then removed; a folder with only a `prizm.service.yml` added as a container service."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from prizm_core.config import SERVICE_MANIFEST_ENV, SidecarSpec, load_config
from prizm_core.installed import Store, with_installed
from prizm_core.options import OptionValue
from tests.support.ffmedia import TONE_HZ, audio_asset, decode_audio, dominant_hz, sample_audio
from tests.support.mesh import client_of

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "prizm-sox-effects"
# Installing into a new environment and starting a router take seconds each on a busy machine.
STEP_TIMEOUT_S = 120
SERVICE_MANIFEST = """\
name: echo-tts
version: 1.0.0
image: prizm-test/echo-tts:1
port_env: PORT
health:
  http: /health-check
capabilities: [text-to-audio]
adapter:
  kind: cog
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# A router address nobody answers at: `add` must not find another test's (or a person's) router.
NO_ROUTER = f"127.0.0.1:{_free_port()}"


def prizm(home: Path, *args: str, router: str = NO_ROUTER) -> subprocess.CompletedProcess[str]:
    """`prizm ARGS` with `home` as Prizm's data directory, and `router` as the router."""
    env = {**os.environ, "PRIZM_HOME": str(home), "PRIZM_ROUTER": router}
    command = [sys.executable, "-m", "prizm_core.cli", *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=STEP_TIMEOUT_S, check=False
    )


def _git(repository: Path, *args: str) -> str:
    identity = ("-c", "user.name=Prizm", "-c", "user.email=prizm@example.org")
    command = ["git", *identity, *args]
    return subprocess.run(command, cwd=repository, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture as its author's repository: `v0.1.0` tagged, and `main` one commit past it."""
    folder = Path(shutil.copytree(FIXTURE, tmp_path_factory.mktemp("repo") / "prizm-sox-effects"))
    _git(folder, "init", "-q", "-b", "main")
    _git(folder, "add", ".")
    _git(folder, "commit", "-qm", "prizm-sox-effects 0.1.0")
    _git(folder, "tag", "v0.1.0")
    (folder / "CHANGES").write_text("unreleased\n", encoding="utf-8")
    _git(folder, "add", "CHANGES")
    _git(folder, "commit", "-qm", "work in progress")
    return folder


@contextlib.contextmanager
def prizm_up(home: Path, config: Path, listen: str = "127.0.0.1:0") -> Iterator[tuple[str, str]]:
    """`prizm up` with `config` and the providers added to `home`: its address and ready line."""
    env = {**os.environ, "PRIZM_HOME": str(home)}
    command = [sys.executable, "-m", "prizm_core.cli", "up", "--config", str(config), "--listen", listen]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, start_new_session=True
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        address = json.loads(lines.get(timeout=STEP_TIMEOUT_S))["address"]
        yield address, lines.get(timeout=STEP_TIMEOUT_S)
    finally:
        # The router's session: it and the sidecars it started.
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(STEP_TIMEOUT_S)


async def _routes_a_job_to_sox_effects(address: str) -> None:
    options: dict[str, OptionValue] = {
        "pitch_semitones": -12.0,
        "speed": 0.5,
        "effect": "echo",
        "format": "flac",
    }
    async with client_of(address, 1) as client:
        result = await client.run("audio-to-audio", audio_asset(sample_audio()), options=options, timeout=60)
    (output,) = result.outputs
    assert output.provenance.provider_id == "sox-effects" and output.mime_type == "audio/flac"
    assert output.data is not None and output.data.startswith(b"fLaC")
    samples = decode_audio(output.data)
    # Twice as long (speed 0.5) plus the echo's quarter-second tail, and an octave lower.
    assert abs(len(samples) / 16000 - 6.25) < 0.05, len(samples) / 16000
    assert abs(dominant_hz(samples) - TONE_HZ / 2) < 5, dominant_hz(samples)


def _listed(home: Path) -> list[dict[str, object]]:
    listed = prizm(home, "provider", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries: list[dict[str, object]] = json.loads(listed.stdout)
    return entries


@pytest.mark.parametrize("kind", ["path", "git"])
async def test_a_package_is_added_served_after_restarts_and_removed(
    tmp_path: Path, repository: Path, kind: str
) -> None:
    home, config = tmp_path / "home", tmp_path / "up.yaml"
    config.write_text("{}\n", encoding="utf-8")  # the router alone: any provider is an added one
    spec = str(FIXTURE) if kind == "path" else f"git+file://{repository}@v0.1.0"
    added = prizm(home, "provider", "add", spec, "--offline")
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[0] == "added package prizm-sox-effects 0.1.0: sox-effects"
    (entry,) = _listed(home)
    assert entry["name"] == "prizm-sox-effects" and entry["provides"] == ["sox-effects"]
    assert entry["venv"] == str(home / "providers" / "prizm-sox-effects" / "venv")
    origin = entry["origin"]
    assert isinstance(origin, dict)
    if kind == "git":
        # The tag's commit, not the branch's newer one.
        assert origin["ref"] == "v0.1.0" and origin["commit"] == _git(repository, "rev-parse", "v0.1.0")
        assert origin["commit"] != _git(repository, "rev-parse", "main")
    else:
        assert origin == {"kind": "path", "location": str(FIXTURE), "ref": "", "commit": ""}
    for _ in range(2):  # and again after a restart: nothing is kept by a router process
        with prizm_up(home, config) as (address, ready):
            assert ready == f"ready: sox-effects on {address}"
            await _routes_a_job_to_sox_effects(address)
    removed = prizm(home, "provider", "remove", "sox-effects")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.splitlines()[0] == "removed package prizm-sox-effects: sox-effects"
    assert _listed(home) == [] and not (home / "providers" / "prizm-sox-effects").exists()
    with prizm_up(home, config) as (address, ready):
        assert ready == f"ready on {address}"


def test_a_branch_is_refused_unless_allowed_and_nothing_is_installed(
    tmp_path: Path, repository: Path
) -> None:
    home = tmp_path / "home"
    refused = prizm(home, "provider", "add", f"git+file://{repository}@main", "--offline")
    head = _git(repository, "rev-parse", "main")
    assert refused.returncode == 2, refused.stderr
    assert (
        "'main' is not a tag or a full commit SHA (a branch moves): pin one with @TAG or @COMMIT"
        in refused.stderr
    )
    assert head in refused.stderr and "--allow-unpinned" in refused.stderr
    assert _listed(home) == [] and not (home / "providers").exists()


def _package(folder: Path, entry_point: str) -> Path:
    """A minimal project declaring `entry_point` (an `[project.entry-points]` table) or none."""
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{folder.name}"\nversion = "1.0"\n{entry_point}\n'
        '[tool.setuptools]\npy-modules = ["provider"]\n',
        encoding="utf-8",
    )
    (folder / "provider.py").write_text("class P: ...\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("entry_point", "problem"),
    [
        ("", "not a Prizm provider: declares no prizm.providers entry point"),
        (
            '[project.entry-points."prizm.providers"]\nespeak = "provider:P"',
            "'espeak' is taken by Prizm's own",
        ),
    ],
)
def test_a_package_that_is_no_provider_or_takes_a_name_is_refused(
    tmp_path: Path, entry_point: str, problem: str
) -> None:
    home = tmp_path / "home"
    refused = prizm(home, "provider", "add", str(_package(tmp_path / "prizm-odd", entry_point)), "--offline")
    assert refused.returncode == 1 and problem in refused.stderr, refused.stderr
    # Its environment is gone with it.
    assert _listed(home) == [] and list((home / "providers").iterdir()) == []


def test_a_package_prizm_has_already_is_named_as_such(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # pip finds it satisfied from Prizm's environment and installs nothing into the new one.
    refused = prizm(home, "provider", "add", "pyyaml", "--offline")
    assert refused.returncode == 1
    assert "pyyaml is installed in Prizm's own environment already" in refused.stderr, refused.stderr
    assert list((home / "providers").iterdir()) == []


def test_a_folder_with_only_a_service_manifest_is_added_as_a_container_service(tmp_path: Path) -> None:
    home, source = tmp_path / "home", tmp_path / "echo-tts"
    source.mkdir()
    (source / "prizm.service.yml").write_text(SERVICE_MANIFEST.replace("version: 1.0.0\n", ""), "utf-8")
    refused = prizm(home, "provider", "add", str(source))
    # The manifest's own problems, as they are: file, line, field.
    assert refused.returncode == 1
    assert f"{source}/prizm.service.yml:1: version: Field required" in refused.stderr, refused.stderr
    (source / "prizm.service.yml").write_text(SERVICE_MANIFEST, "utf-8")
    added = prizm(home, "provider", "add", str(source))
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[0] == "added service echo-tts 1.0.0: echo-tts"
    copied = home / "services" / "echo-tts" / "prizm.service.yml"
    assert copied.read_text(encoding="utf-8") == SERVICE_MANIFEST
    (entry,) = _listed(home)
    assert entry["kind"] == "service" and entry["manifest"] == str(copied) and entry["venv"] is None
    # What `prizm up` runs: the container provider on the copied manifest, beside the config's own.
    config = tmp_path / "up.yaml"
    config.write_text("sidecars: [synthetic]\n", encoding="utf-8")
    sidecars = with_installed(load_config(config), Store(home).entries()).sidecars
    assert sidecars == (
        SidecarSpec("synthetic"),
        SidecarSpec("container", env=((SERVICE_MANIFEST_ENV, str(copied)),), label="echo-tts"),
    )
    assert prizm(home, "provider", "remove", "echo-tts").returncode == 0
    assert _listed(home) == [] and not copied.parent.exists()


def _running(pid: int) -> bool:
    """Whether `pid` is a provider process still (not gone, nor a zombie left to be reaped)."""
    try:
        return b"serve-provider" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def _endpoints(address: str) -> dict[str, int]:
    """The router's endpoints: address → discovery source."""
    async with PrizmClient(address) as client:
        return {e.address: e.source for e in await client.list_providers()}


async def test_added_while_a_router_runs_it_is_served_at_once_until_removed(tmp_path: Path) -> None:
    home, config = tmp_path / "home", tmp_path / "up.yaml"
    config.write_text("{}\n", encoding="utf-8")
    with prizm_up(home, config) as (address, ready):
        assert ready == f"ready on {address}"
        added = prizm(home, "provider", "add", str(FIXTURE), "--offline", router=address)
        assert added.returncode == 0, added.stderr
        served = re.fullmatch(
            rf"serving sox-effects on (127\.0\.0\.1:\d+), registered with the router at {re.escape(address)}",
            added.stdout.splitlines()[1],
        )
        assert served is not None, added.stdout
        assert await _endpoints(address) == {served[1]: router_pb.DISCOVERY_SOURCE_REGISTERED}
        await _routes_a_job_to_sox_effects(address)
        started = json.loads((home / "run" / "prizm-sox-effects" / "started.json").read_text())
        pid = int(started["sox-effects"]["pid"])
        assert _running(pid)
    # A new router at the same address serves it as its sidecar; the process started for the old one
    # stops rather than register twice.
    with prizm_up(home, config, listen=address) as (_, ready):
        assert ready == f"ready: sox-effects on {address}" and not _running(pid)
        (sidecar,) = (await _endpoints(address)).items()
        assert sidecar[1] == router_pb.DISCOVERY_SOURCE_SIDECAR and sidecar[0] != served[1]
    # Added again while a router runs, then removed: its process stops and deregisters at once.
    assert prizm(home, "provider", "remove", "sox-effects").returncode == 0
    with prizm_up(home, config) as (address, ready):
        assert prizm(home, "provider", "add", str(FIXTURE), "--offline", router=address).returncode == 0
        assert len(await _endpoints(address)) == 1
        pid = int(
            json.loads((home / "run" / "prizm-sox-effects" / "started.json").read_text())["sox-effects"][
                "pid"
            ]
        )
        removed = prizm(home, "provider", "remove", "sox-effects", router=address)
        assert removed.returncode == 0, removed.stderr
        assert not _running(pid) and await _endpoints(address) == {}
    assert not (home / "run" / "prizm-sox-effects").exists()


def test_a_repository_with_only_a_service_manifest_is_added_at_its_tag(tmp_path: Path) -> None:
    home, repository = tmp_path / "home", tmp_path / "echo-tts"
    repository.mkdir()
    (repository / "prizm.service.yml").write_text(SERVICE_MANIFEST.replace("cog", "rest"), "utf-8")
    _git(repository, "init", "-q", "-b", "main")
    _git(repository, "add", ".")
    _git(repository, "commit", "-qm", "a bad adapter")
    _git(repository, "tag", "v0")
    (repository / "prizm.service.yml").write_text(SERVICE_MANIFEST, "utf-8")
    _git(repository, "commit", "-qam", "the cog adapter")
    _git(repository, "tag", "v1")
    refused = prizm(home, "provider", "add", f"git+file://{repository}@v0")
    # The problem is named in the repository at its tag, not in a temporary clone.
    assert refused.returncode == 1
    assert f"file://{repository}@v0/prizm.service.yml:9: adapter.kind" in refused.stderr, refused.stderr
    added = prizm(home, "provider", "add", f"git+file://{repository}@v1")
    assert added.returncode == 0, added.stderr
    (entry,) = _listed(home)
    assert entry["kind"] == "service" and entry["name"] == "echo-tts"
    assert entry["origin"] == {
        "kind": "git",
        "location": f"file://{repository}",
        "ref": "v1",
        "commit": _git(repository, "rev-parse", "v1"),
    }
    copied = home / "services" / "echo-tts"
    assert (copied / "prizm.service.yml").read_text(encoding="utf-8") == SERVICE_MANIFEST
    assert not (copied / ".git").exists()
