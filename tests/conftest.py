"""Shared fixtures: the real providers and a router in front of them, as subprocesses on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ServerProcess, router_for, start_provider


@pytest.fixture(scope="session")
def piper() -> Iterator[ServerProcess]:
    """The piper provider."""
    server = start_provider("piper")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pocketsphinx() -> Iterator[ServerProcess]:
    """The pocketsphinx provider."""
    server = start_provider("pocketsphinx")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def synthetic() -> Iterator[ServerProcess]:
    """The synthetic provider."""
    server = start_provider("synthetic")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mesh(
    tmp_path_factory: pytest.TempPathFactory,
    piper: ServerProcess,
    pocketsphinx: ServerProcess,
    synthetic: ServerProcess,
) -> Iterator[ServerProcess]:
    """A router with piper, pocketsphinx and synthetic as static providers."""
    with router_for(tmp_path_factory.mktemp("mesh"), piper, pocketsphinx, synthetic) as router:
        yield router


@pytest.fixture
def tmp_config(tmp_path: Path) -> Path:
    """A path for a router config."""
    return tmp_path / "router.yaml"


FIGURES = Path(__file__).resolve().parents[1] / "out" / "reliability.json"


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, object]]:
    """Measured figures of the fault tests, merged into out/reliability.json for docs/reliability.md."""
    found: dict[str, object] = {}
    yield found
    if found:
        FIGURES.parent.mkdir(exist_ok=True)
        known = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
        FIGURES.write_text(json.dumps({**known, **found}, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def ffmpeg() -> Iterator[ServerProcess]:
    """The ffmpeg provider."""
    server = start_provider("ffmpeg")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def imaging() -> Iterator[ServerProcess]:
    """The imaging provider."""
    server = start_provider("imaging")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ocr() -> Iterator[ServerProcess]:
    """The OCR provider."""
    server = start_provider("ocr")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def espeak() -> Iterator[ServerProcess]:
    """The espeak provider."""
    server = start_provider("espeak")
    yield server
    server.stop()
