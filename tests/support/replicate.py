"""The Replicate provider in tests: `ReplicateFake`, the provider in front of it and a router."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prizm_core.client import JobResult
from provider_servers.replicate.fake import ReplicateFake
from tests.support.processes import ServerProcess, router_for, start_provider

__all__ = [
    "DEPLOYED",
    "LLAMA",
    "PRO",
    "SCHNELL",
    "TOKEN",
    "Mesh",
    "creations",
    "last_id",
    "output_bytes",
    "replicate_mesh",
    "reset",
]

TOKEN = f"r8_CANARY-{secrets.token_hex(8)}"
SCHNELL = "black-forest-labs/flux-schnell"
PRO = "black-forest-labs/flux-1.1-pro"
LLAMA = "meta/meta-llama-3-8b-instruct"
# A model declared in config, the way a user adds one: their own deployment of FLUX.1 [schnell].
DEPLOYED = [
    {
        "id": "acme-flux",
        "ref": "deployments/black-forest-labs/flux-schnell",
        "capability": "text-to-image",
        "display_name": "ACME's FLUX deployment",
        "prices": {"compute_second": 0.001},
        "typical_s": 2.0,
        "parameters": [
            {"name": "format", "choices": ["png"], "default": "png"},
            {"name": "aspect_ratio", "type": "string", "choices": ["1:1", "3:2"], "default": "3:2"},
        ],
        "renames": {"format": "output_format"},
        "output_mime_type": "image/png",
    }
]


@dataclass(frozen=True)
class Mesh:
    """The fake Replicate, the provider process pointed at it, and a router in front."""

    fake: ReplicateFake
    provider: ServerProcess
    router: ServerProcess


@contextlib.contextmanager
def replicate_mesh(folder: Path) -> Iterator[Mesh]:
    """Starts the mesh (the provider polling briskly, with `DEPLOYED` as its models file); on the
    way out checks that the canary token reached no log of the provider or the router."""
    models = folder / "models.json"
    models.write_text(json.dumps(DEPLOYED), encoding="utf-8")
    with ReplicateFake(TOKEN) as fake:
        env = {
            "REPLICATE_API_TOKEN": TOKEN,
            "REPLICATE_BASE_URL": fake.url,
            "REPLICATE_POLL_INTERVAL": "0.1",
            "PRIZM_REPLICATE_MODELS": str(models),
        }
        provider = start_provider("replicate", env=env)
        try:
            with router_for(folder, provider) as router:
                yield Mesh(fake, provider, router)
            assert TOKEN not in router.log_text()
        finally:
            provider.stop()
        logs = provider.log_text()
        assert "replicate prediction" in logs  # the log was captured: the next line can fail
        assert TOKEN not in logs


def reset(fake: ReplicateFake) -> None:
    """Predictions that end at creation, the right token, no scripted failure."""
    fake.token = TOKEN
    fake.polls = 0
    fake.create_error = None
    fake.fail_with = None
    fake.output_bytes = 0
    fake.piece_delay_s = 0.02


def output_bytes(result: JobResult, index: int = 0) -> bytes:
    """The bytes of one output of a finished job."""
    data = result.outputs[index].data
    assert isinstance(data, bytes)
    return data


def last_id(fake: ReplicateFake) -> str:
    """The id of the prediction made last."""
    return next(reversed(fake.predictions))


def creations(fake: ReplicateFake, model: str) -> list[dict[str, object]]:
    """The bodies that created predictions of an official `model`, in order."""
    return [c.json for c in fake.requests("POST", f"/v1/models/{model}/predictions")]
