"""Shared fixtures: the real providers and a router in front of them, as subprocesses on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.processes import ServerProcess, router_for, start_provider


def _session_provider(name: str) -> Callable[[], Iterator[ServerProcess]]:
    """A session fixture named `name`: that provider's server, started once, stopped at the end."""

    @pytest.fixture(scope="session", name=name)
    def provider() -> Iterator[ServerProcess]:
        server = start_provider(name)
        yield server
        server.stop()

    provider.__doc__ = f"The {name} provider, started once for the session."
    return provider


piper = _session_provider("piper")
pocketsphinx = _session_provider("pocketsphinx")
synthetic = _session_provider("synthetic")
ffmpeg = _session_provider("ffmpeg")
imaging = _session_provider("imaging")
ocr = _session_provider("ocr")
espeak = _session_provider("espeak")


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
