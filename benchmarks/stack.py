"""One provider with the router and nginx in front of it, and rounds that alternate between the three."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load import Target
from benchmarks.nginx import Nginx
from benchmarks.processes import ServerProcess, start_provider, start_router, write_config
from tests.support.mesh import wait_routable

__all__ = ["Stack", "alternate", "stack"]


@dataclass
class Stack:
    """The processes and the ways to reach the provider through them."""

    provider: ServerProcess
    router: ServerProcess
    nginx: Nginx | None
    targets: dict[str, Target] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def stack(
    workdir: Path,
    *,
    with_nginx: bool,
    provider_args: Sequence[str] = (),
    router_args: Sequence[str] = (),
    connections: int = 1,
) -> AsyncIterator[Stack]:
    """Starts a synthetic provider, a router and (optionally) nginx, and opens a target for each."""
    provider = start_provider("synthetic", *provider_args)
    router = start_router(write_config(workdir / "router.yaml", [provider.address]), *router_args)
    nginx = Nginx(provider.address).start() if with_nginx else None
    built = Stack(provider=provider, router=router, nginx=nginx)
    try:
        await wait_routable(router.address, 1)
        addresses = {"direct": provider.address, "router": router.address}
        if nginx is not None:
            addresses["nginx"] = nginx.address
        for name, address in addresses.items():
            built.targets[name] = await Target(name, address, connections).open()
        yield built
    finally:
        for target in built.targets.values():
            await target.close()
        if nginx is not None:
            nginx.stop()
        router.stop()
        provider.stop()


async def alternate(
    targets: dict[str, Target], rounds: int, measure: Callable[[Target], Awaitable[list[float]]]
) -> dict[str, list[float]]:
    """Runs `measure` on every target in each round, rotating the order, and pools the samples."""
    names = list(targets)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name] += await measure(targets[name])
    return samples
