"""DNS discovery as Kubernetes does it: a name's A records are the replicas, all on one port.

A real DNS server on 127.0.0.1 (UDP, an ephemeral port) answers a headless Service's name
with loopback addresses 127.0.0.2, 127.0.0.3 …, each a real provider on the same port, as
each pod behind a headless Service has its own IP. The router, a real process, asks that
server (`nameserver:`) every 0.2 s, and the test changes the records as a rollout would.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import yaml
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.config import ConfigError, load_config, parse_config
from prizm_core.router.dns import nameserver_resolver
from provider_servers.synthetic.provider import synthetic_output
from tests.support.control import status
from tests.support.mesh import wait_until
from tests.support.processes import ServerProcess, start_provider, start_router

NAME = "providers.prizm.svc.cluster.local"
DEPLOY_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
ADDED, REMOVED = router_pb.ENDPOINT_CHANGE_ADDED, router_pb.ENDPOINT_CHANGE_REMOVED


def _rdtype(address: str) -> dns.rdatatype.RdataType:
    return dns.rdatatype.AAAA if ipaddress.ip_address(address).version == 6 else dns.rdatatype.A


class LoopbackDns(asyncio.DatagramProtocol):
    """An authoritative DNS server for one name: the A and AAAA records the test sets, or NXDOMAIN."""

    def __init__(self, name: str) -> None:
        self.name = dns.name.from_text(name)
        self.addresses: set[str] = set()
        self.nxdomain = False
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keeps the socket to answer on."""
        self.transport = cast(asyncio.DatagramTransport, transport)  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        """Answers one query: the name's records of the type asked (maybe none), NXDOMAIN for other names."""
        query = dns.message.from_wire(data)
        question = query.question[0]
        self.queries.append((question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if question.name != self.name or self.nxdomain:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            records = sorted(a for a in self.addresses if _rdtype(a) == question.rdtype)
            if records:
                response.answer.append(dns.rrset.from_text_list(self.name, 0, "IN", question.rdtype, records))
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def nameserver() -> AsyncIterator[tuple[LoopbackDns, str]]:
    """The DNS server and its `127.0.0.1:PORT`, closed after the test."""
    transport, server = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: LoopbackDns(NAME), local_addr=("127.0.0.1", 0)
    )
    yield server, f"127.0.0.1:{transport.get_extra_info('sockname')[1]}"
    transport.close()


async def _replicas(first: str, *rest: str) -> list[ServerProcess]:
    """Synthetic providers on these hosts, all on the port the first one got (as pods share one)."""
    providers = [await asyncio.to_thread(start_provider, "synthetic", "--host", first)]
    port = providers[0].address.rsplit(":", 1)[1]
    started = [asyncio.to_thread(start_provider, "synthetic", "--host", h, "--port", port) for h in rest]
    for outcome in await asyncio.gather(*started, return_exceptions=True):
        if isinstance(outcome, ServerProcess):
            providers.append(outcome)
    if len(providers) <= len(rest):  # one did not start (its port taken on that address): stop the rest
        for provider in providers:
            provider.stop()
        raise RuntimeError(f"not every replica started on port {port}")
    return providers


async def _watch(router: str, changes: list[tuple[int, str]]) -> None:
    """Appends every (change, address) the router's WatchProviders stream sends."""
    async with insecure_channel(router) as channel:
        stub = router_grpc.RouterServiceStub(channel)
        async for event in stub.WatchProviders(router_pb.WatchProvidersRequest(), wait_for_ready=True):
            changes.append((event.change, event.endpoint.address))


async def _serving_exactly(client: PrizmClient, addresses: set[str]) -> None:
    """Waits until the router lists exactly `addresses`, each SERVING and found by DNS."""
    seen: list[tuple[str, int, int]] = []

    async def settled() -> bool:
        seen[:] = [(e.address, e.state, e.source) for e in await client.list_providers()]
        wanted = {(a, router_pb.ENDPOINT_STATE_SERVING, router_pb.DISCOVERY_SOURCE_DNS) for a in addresses}
        return set(seen) == wanted

    try:
        await wait_until(settled, 20, interval=0.05)
    except AssertionError:
        raise AssertionError(
            f"wanted {sorted(addresses)} serving from DNS; the router lists {seen}"
        ) from None


async def _jobs_by_replica(client: PrizmClient, replicas: list[ServerProcess], jobs: int) -> list[int]:
    """Runs `jobs` jobs through the router; how many each replica finished meanwhile."""
    before = [(await status(p.address)).finished_jobs for p in replicas]
    inputs = [f"job {i}".encode() for i in range(jobs)]
    results = await asyncio.gather(
        *(client.run("text-to-text", data, options={"events": 1}, timeout=20) for data in inputs)
    )
    assert [r.outputs[0].data for r in results] == [synthetic_output(data, 1024) for data in inputs]
    after = [(await status(p.address)).finished_jobs for p in replicas]
    return [done - earlier for done, earlier in zip(after, before, strict=True)]


async def test_the_router_follows_a_headless_services_records(
    tmp_path: Path, nameserver: tuple[LoopbackDns, str]
) -> None:
    server, nameserver_address = nameserver
    replicas = await _replicas("127.0.0.2", "127.0.0.3", "127.0.0.4")
    first, second, third = (p.address for p in replicas)
    port = int(first.rsplit(":", 1)[1])
    assert [first, second, third] == [f"127.0.0.{n}:{port}" for n in (2, 3, 4)]
    server.addresses = {"127.0.0.2", "127.0.0.3"}
    config = tmp_path / "router.yaml"
    target = {"name": NAME, "port": port, "nameserver": nameserver_address, "interval_s": 0.2}
    config.write_text(json.dumps({"dns": [target]}), encoding="utf-8")
    changes: list[tuple[int, str]] = []
    router = watch = None
    try:
        router = start_router(config)
        watch = asyncio.create_task(_watch(router.address, changes))
        async with PrizmClient(router.address) as client:
            await _serving_exactly(client, {first, second})
            assert (f"{NAME}.", "A") in server.queries  # the router asked our server, not the system's
            # Equal replicas share the load at random: 24 jobs all on one of two has odds 2**-23.
            assert [n > 0 for n in await _jobs_by_replica(client, replicas, 24)] == [True, True, False]

            await _seen(changes, (ADDED, first), (ADDED, second))  # the watch is on before the rollout
            # A rollout: a new pod's address appears, an old one's goes.
            server.addresses = {"127.0.0.3", "127.0.0.4"}
            await _serving_exactly(client, {second, third})
            assert [n > 0 for n in await _jobs_by_replica(client, replicas, 24)] == [False, True, True]
            await _seen(changes, (ADDED, third), (REMOVED, first))
            assert changes.index((REMOVED, first)) > changes.index((ADDED, first))

            # A DNS outage (the name gone, as when the cluster's DNS fails) keeps the endpoints.
            server.nxdomain = True
            asked = len(server.queries)
            await wait_until(lambda: _more(server, asked + 3), 10, interval=0.05)
            await _serving_exactly(client, {second, third})
            assert [n > 0 for n in await _jobs_by_replica(client, replicas, 24)] == [False, True, True]
    finally:
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        for process in (router, *replicas):
            if process is not None:
                process.stop()


async def _more(server: LoopbackDns, queries: int) -> bool:
    return len(server.queries) >= queries


async def _seen(changes: list[tuple[int, str]], *wanted: tuple[int, str]) -> None:
    """Waits until the watch stream has sent every one of `wanted`."""

    async def arrived() -> bool:
        return all(change in changes for change in wanted)

    try:
        await wait_until(arrived, 10, interval=0.02)
    except AssertionError:
        raise AssertionError(f"WatchProviders never sent {wanted}; it sent {changes}") from None


async def test_the_nameserver_resolver_gives_a_and_aaaa_records_and_fails_on_nxdomain(
    nameserver: tuple[LoopbackDns, str],
) -> None:
    server, address = nameserver
    host, port = address.rsplit(":", 1)
    resolve = nameserver_resolver(host, int(port))
    server.addresses = {"10.1.2.3", "10.1.2.4", "fd00::7"}
    assert await resolve(NAME, 50051) == {"10.1.2.3:50051", "10.1.2.4:50051", "[fd00::7]:50051"}
    assert await resolve(NAME + ".", 7) == {"10.1.2.3:7", "10.1.2.4:7", "[fd00::7]:7"}
    assert [q for q in server.queries if q[1] == "AAAA"], "it asks for IPv6 addresses too"
    server.addresses = set()
    assert await resolve(NAME, 50051) == set()  # NOERROR, no records: no Pods
    with pytest.raises(OSError, match=r"NXDOMAIN|does not exist"):
        await resolve("elsewhere.svc.cluster.local", 50051)


async def test_a_nameserver_that_does_not_answer_is_an_oserror() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never read
        silent.bind(("127.0.0.1", 0))
        resolve = nameserver_resolver("127.0.0.1", silent.getsockname()[1], lifetime_s=0.3)
        with pytest.raises(OSError, match=f"A {NAME} at 127.0.0.1"):
            await resolve(NAME, 50051)


@pytest.mark.parametrize(
    ("nameserver", "ok"),
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:53", ("::1", 53)),
        ("dns.local:53", None),
        ("127.0.0.1", None),
        ("127.0.0.1:0", None),
        (5353, None),
    ],
)
def test_a_nameserver_is_an_ip_and_a_port(tmp_path: Path, nameserver: object, ok: object) -> None:
    config = tmp_path / "router.yaml"
    config.write_text(json.dumps({"dns": [{"name": NAME, "port": 1, "nameserver": nameserver}]}))
    if ok is None:
        with pytest.raises(ConfigError, match=r"dns\[0\]\.nameserver: must be the IP:PORT of a DNS server"):
            load_config(config)
    else:
        assert load_config(config).dns[0].nameserver == ok


@pytest.mark.parametrize(
    "block", re.findall(r"```yaml\n(.*?)```", DEPLOY_GUIDE.read_text(encoding="utf-8"), re.S)
)
def test_the_deploy_guides_dns_entries_are_valid_router_configs(block: str) -> None:
    config = parse_config(yaml.safe_load(block), "docs/deploy.md")
    assert config.dns
    assert all(target.name.endswith(".svc.cluster.local") for target in config.dns)
