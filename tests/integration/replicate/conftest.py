"""The fake Replicate, its provider and a router, shared by this folder's test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prizm_core.client import PrizmClient
from provider_servers.replicate.fake import ReplicateFake
from tests.support.replicate import Mesh, replicate_mesh, reset


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The fake Replicate, the provider and a router, for the whole module."""
    with replicate_mesh(tmp_path_factory.mktemp("replicate")) as started:
        yield started


@pytest.fixture(autouse=True)
def fresh_script(mesh: Mesh) -> None:
    """Each test starts from predictions that end at creation and the right token."""
    reset(mesh.fake)


@pytest.fixture
def fake(mesh: Mesh) -> ReplicateFake:
    """The fake Replicate."""
    return mesh.fake


@pytest.fixture
async def client(mesh: Mesh) -> PrizmClient:
    """A client of the router that never retries, once Replicate serves text-to-image there."""
    client = PrizmClient(mesh.router.address, max_attempts=1)
    await client.wait_for_capability("text-to-image", 60, provider="replicate")
    return client
