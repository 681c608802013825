"""The fal tests' mesh: `FakeFal` with a canary key, the fal provider as a process, a router, a client."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from prizm_core.client import PrizmClient
from provider_servers.fal.fake import FakeFal, Script
from tests.support.processes import ServerProcess, router_for, start_provider

__all__ = ["KEY", "VIDEO_MODEL", "fal_mesh"]

KEY = f"sk-CANARY-{secrets.token_hex(8)}"
VIDEO_MODEL = "fal-ai/example/text-to-video"
# A model declared in config, the way a user adds one: a video endpoint priced per second.
MODELS = [
    {
        "id": VIDEO_MODEL,
        "capability": "text-to-video",
        "display_name": "A video endpoint",
        "prices": {"output_video_second": 0.28},
        "fields": {"duration_s": "duration"},
        "output_field": "video",
        "output_mime_type": "video/mp4",
        "parameters": [
            {"name": "duration_s", "minimum": 5, "maximum": 10, "default": 5},
            {"name": "cfg_scale", "type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        ],
    }
]


def fal_mesh() -> tuple[Callable[..., object], ...]:
    """Module fixtures `fake`, `fresh_script` (autouse), `provider`, `router` and `client`:
    `fake, fresh_script, provider, router, client = fal_mesh()`."""

    @pytest.fixture(scope="module", name="fake")
    def fake() -> Iterator[FakeFal]:
        """fal on loopback, taking only the canary key."""
        with FakeFal(KEY) as server:
            yield server

    @pytest.fixture(autouse=True, name="fresh_script")
    def fresh_script(fake: FakeFal) -> None:
        """Each test starts from the default script and the right key."""
        fake.script = Script()
        fake.key = KEY

    @pytest.fixture(scope="module", name="provider")
    def provider(fake: FakeFal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
        """The fal provider as a process, pointed at the fake, with a models file; its log never
        holds the key."""
        models = tmp_path_factory.mktemp("fal") / "models.json"
        models.write_text(json.dumps(MODELS), encoding="utf-8")
        env = {
            "FAL_KEY": KEY,
            "FAL_BASE_URL": fake.url,
            "FAL_REST_URL": fake.url,
            "FAL_API_URL": f"{fake.url}/v1",
            "PRIZM_FAL_MODELS": str(models),
        }
        server = start_provider("fal", env=env)
        yield server
        logs = server.log_text()
        server.stop()
        assert KEY not in logs

    @pytest.fixture(scope="module", name="router")
    def router(provider: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
        """A router in front of the fal provider; its log never holds the key."""
        with router_for(tmp_path_factory.mktemp("fal-router"), provider) as server:
            yield server
            logs = server.log_text()
        assert KEY not in logs

    @pytest.fixture(name="client")
    async def client(router: ServerProcess) -> AsyncIterator[PrizmClient]:
        """A client of the router that never retries, once fal serves text-to-image there."""
        async with PrizmClient(router.address, max_attempts=1) as connected:
            await connected.wait_for_capability("text-to-image", 60, provider="fal")
            yield connected

    return fake, fresh_script, provider, router, client
