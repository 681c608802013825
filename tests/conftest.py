"""Shared fixtures: the real providers and a router in front of them, as subprocesses on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.processes import ServerProcess, router_for

if TYPE_CHECKING:
    # Only for annotations: pytest imports the plugin itself, so that it can rewrite its asserts.
    from provider_servers.contract.plugin import ProviderServers

# The contract suite's plugin: its options, and the providers' servers shared with the tests here.
# The Docker engine's: the `docker_client` and `no_docker_leftovers` fixtures of the `docker` tests.
pytest_plugins = ("provider_servers.contract.plugin", "tests.support.docker_engine")


def _session_provider(name: str) -> Callable[[ProviderServers], ServerProcess]:
    """A session fixture named `name`: that provider's server, the one the contract suite uses."""

    @pytest.fixture(scope="session", name=name)
    def provider(prizm_servers: ProviderServers) -> ServerProcess:
        return prizm_servers.get(name)

    provider.__doc__ = f"The {name} provider, started once for the session."
    return provider


# One fixture per installed provider, named after it (`piper`, `synthetic`, ...).
_INSTALLED = {point.name for point in entry_points(group="prizm.providers")}
globals().update({name: _session_provider(name) for name in _INSTALLED if name.isidentifier()})


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
