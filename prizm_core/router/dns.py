"""DNS discovery: the addresses behind a name (a Kubernetes headless Service) are endpoints, re-resolved."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable

from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config import DnsTarget
from prizm_core.router.core import Router

__all__ = ["DnsDiscovery", "Resolver", "system_resolver"]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[set[str]]]


async def system_resolver(name: str, port: int) -> set[str]:
    """`host:port` for every address the system resolver gives for `name` (IPv6 in brackets)."""
    infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
    found = set()
    for _family, _type, _proto, _canonical, sockaddr in infos:
        host = str(sockaddr[0])
        found.add(f"[{host}]:{port}" if ipaddress.ip_address(host).version == 6 else f"{host}:{port}")
    return found


class DnsDiscovery:
    """Keeps the router's endpoints for one name equal to what DNS says, every `interval_s`.

    A failed lookup keeps the endpoints it had: a DNS blip must not empty the mesh.
    It removes only endpoints it added: an address another source knows stays.
    """

    def __init__(self, router: Router, target: DnsTarget, resolver: Resolver = system_resolver) -> None:
        self.router = router
        self.target = target
        self.resolver = resolver
        self.current: set[str] = set()

    async def refresh(self) -> None:
        """Resolves once and adds or removes endpoints to match."""
        try:
            found = await self.resolver(self.target.name, self.target.port)
        except OSError as exc:
            log.warning(
                "cannot resolve %s: %s; keeping %d endpoint(s)", self.target.name, exc, len(self.current)
            )
            return
        for address in sorted(found - self.current):
            endpoint = self.router.add_endpoint(address, router_pb.DISCOVERY_SOURCE_DNS, self.target.priority)
            if endpoint.source == router_pb.DISCOVERY_SOURCE_DNS:
                self.current.add(address)
        for address in sorted(self.current - found):
            self.router.retire_endpoint(address, f"gone from DNS {self.target.name}")
            self.current.discard(address)

    async def run(self) -> None:
        """Refreshes until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.target.interval_s)
