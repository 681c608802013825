"""DNS discovery: the addresses behind a name (a Kubernetes headless Service) are endpoints, re-resolved."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable

import dns.asyncresolver
import dns.exception
import dns.resolver
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config import DnsTarget
from prizm_core.router.core import Router

__all__ = ["DnsDiscovery", "Resolver", "nameserver_resolver", "system_resolver"]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[set[str]]]

# A lookup that takes longer than this counts as failed (endpoints kept) rather than stall the refresh loop.
LOOKUP_LIFETIME_S = 2.0


def _address(host: str, port: int) -> str:
    """`host:port`, an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ipaddress.ip_address(host).version == 6 else f"{host}:{port}"


async def system_resolver(name: str, port: int) -> set[str]:
    """`host:port` for every address the system resolver gives for `name` (IPv6 in brackets)."""
    infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
    return {_address(str(sockaddr[0]), port) for _family, _type, _proto, _canonical, sockaddr in infos}


def nameserver_resolver(host: str, port: int, lifetime_s: float = LOOKUP_LIFETIME_S) -> Resolver:
    """A resolver that asks only the DNS server at `host:port` for A and AAAA records.

    This is what a pod's resolver does with a headless Service's name, minus the
    search list and the cache: the name is taken as absolute, and every refresh
    asks again, so an address DNS drops is dropped at the next refresh.

    Args:
        host: IP address of the DNS server (e.g. the cluster's DNS Service, or a test's).
        port: Its UDP port (TCP is used when an answer is truncated).
        lifetime_s: How long one lookup may take, retries included.

    Returns:
        A `Resolver`; it raises OSError when the server fails, times out or says the name
        does not exist (NXDOMAIN), so that the endpoints found before are kept.
    """
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = port
    resolver.lifetime = lifetime_s
    resolver.cache = None

    async def resolve(name: str, endpoint_port: int) -> set[str]:
        found: set[str] = set()
        for rdtype in ("A", "AAAA"):
            try:
                answer = await resolver.resolve(name, rdtype, search=False)
            except dns.resolver.NoAnswer:
                continue  # the name exists without records of this type: an IPv4-only Service has no AAAA
            except dns.exception.DNSException as exc:
                raise OSError(f"{rdtype} {name} at {host}:{port}: {exc}") from exc
            found.update(_address(record.to_text(), endpoint_port) for record in answer)
        return found

    return resolve


class DnsDiscovery:
    """Keeps the router's endpoints for one name equal to what DNS says, every `interval_s`.

    A failed lookup keeps the endpoints it had: a DNS blip must not empty the mesh.
    It removes only endpoints it added: an address another source knows stays.
    """

    def __init__(self, router: Router, target: DnsTarget, resolver: Resolver = system_resolver) -> None:
        """Discovery for `target`.

        Args:
            router: The router whose endpoints follow DNS.
            target: The name, port, interval, priority and (optional) nameserver.
            resolver: How names are looked up. The default, the system's resolver, gives way
                to `nameserver_resolver` when the target names its own DNS server.
        """
        if resolver is system_resolver and target.nameserver is not None:
            resolver = nameserver_resolver(*target.nameserver)
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
        before = set(self.current)
        for address in sorted(found - self.current):
            endpoint = self.router.add_endpoint(address, router_pb.DISCOVERY_SOURCE_DNS, self.target.priority)
            if endpoint.source == router_pb.DISCOVERY_SOURCE_DNS:
                self.current.add(address)
        for address in sorted(self.current - found):
            self.router.retire_endpoint(address, f"gone from DNS {self.target.name}")
            self.current.discard(address)
        if self.current != before:
            log.info("DNS %s now gives %s", self.target.name, sorted(self.current))

    async def run(self) -> None:
        """Refreshes until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.target.interval_s)
