"""Remote providers in tests: canary keys, a provider process in front of its fake, routers with
priorities."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

from tests.support.processes import ServerProcess, start_provider, start_router

__all__ = ["canary_key", "prioritized_router", "remote_provider"]


def canary_key() -> str:
    """A fresh key that must never show up anywhere: `sk-CANARY-` and 16 random hex digits."""
    return f"sk-CANARY-{secrets.token_hex(8)}"


@contextlib.contextmanager
def remote_provider(name: str, key_env: str, key: str, **urls: str) -> Iterator[ServerProcess]:
    """`prizm serve-provider NAME` with `key` in `key_env` and base URLs (`ELEVENLABS_BASE_URL=...`)."""
    server = start_provider(name, env={key_env: key, **urls})
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def prioritized_router(folder: Path, *entries: tuple[str, int], **settings: str) -> Iterator[ServerProcess]:
    """A router with static endpoints `(address, priority)`, higher priority tried first."""
    lines = [f"  - {{address: '{address}', priority: {priority}}}" for address, priority in entries]
    extra = [f"{name}: {value}" for name, value in settings.items()]
    config = folder / "router.yaml"
    config.write_text("\n".join(["providers:", *lines, *extra]) + "\n")
    router = start_router(config)
    try:
        yield router
    finally:
        router.stop()
