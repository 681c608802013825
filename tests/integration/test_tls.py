"""TLS and mTLS on every hop, with the certificates of `prizm certs`: jobs through, strangers refused,
plaintext callers told what to do, certificates reloaded without a restart."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.channels import open_channel
from prizm_core.client import PrizmClient, SyncPrizmClient
from prizm_core.errors import PrizmError
from prizm_core.security.certs import issue, make_mesh
from prizm_core.security.tls import ClientTls, ServerTls
from prizm_core.serving import GrpcServer, ServeSettings
from provider_servers.synthetic.provider import synthetic_output
from tests.support.mesh import wait_until
from tests.support.processes import ServerProcess, start_provider, start_router, start_server, up_command

# What gRPC's client says when a server ends the TLS handshake because it does not like the client:
# no client certificate, one from another CA, or no TLS at all. The handshake never completes, so
# no RPC reaches the server: the status is the transport's own UNAVAILABLE.
REFUSED = "failed to connect to all addresses"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mesh of `prizm certs`, made once for the module."""
    folder = tmp_path_factory.mktemp("certs")
    subprocess.run([sys.executable, "-m", "prizm_core.cli", "certs", "--dir", str(folder)], check=True)
    return folder


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another CA's mesh: its certificates are valid, but not ours."""
    folder = tmp_path_factory.mktemp("stranger")
    make_mesh(folder)
    return folder


@pytest.fixture(scope="module")
def provider(certs: Path) -> Iterator[ServerProcess]:
    """A synthetic provider serving TLS that admits only clients with a certificate of our CA."""
    server = start_provider(
        "synthetic",
        *("--tls-cert", str(certs / "provider.pem"), "--tls-key", str(certs / "provider.key")),
        *("--tls-client-ca", str(certs / "ca.pem")),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def router(certs: Path, provider: ServerProcess) -> Iterator[ServerProcess]:
    """A router serving mTLS (callers need a certificate of our CA) and dialling its provider with
    its own client certificate; the config names the files relative to its own folder."""
    tls = {"cert": "router.pem", "key": "router.key", "client_ca": "ca.pem", "ca": "ca.pem"}
    tls |= {"client_cert": "router-client.pem", "client_key": "router-client.key"}
    config = certs / "router.yaml"
    config.write_text(json.dumps({"providers": [provider.address], "tls": tls}), encoding="utf-8")
    server = start_router(config)
    yield server
    server.stop()


def _caller(certs: Path) -> ClientTls:
    return ClientTls(certs / "ca.pem", certs / "caller.pem", certs / "caller.key")


async def _serving(client: PrizmClient) -> None:
    async def ready() -> bool:
        endpoints = await client.list_providers()
        return any(e.state == router_pb.ENDPOINT_STATE_SERVING for e in endpoints)

    await wait_until(ready, 30, interval=0.05)


def _prizm(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PRIZM_TLS_")}
    return subprocess.run(
        [sys.executable, "-m", "prizm_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        check=False,
    )


async def test_a_job_goes_through_mtls_on_both_hops(certs: Path, router: ServerProcess) -> None:
    async with PrizmClient(router.address, tls=_caller(certs)) as client:
        await _serving(client)
        result = await client.run("text-to-text", "over tls", options={"events": 2, "output_bytes": 3000})
    assert result.outputs[0].data == synthetic_output(b"over tls", 3000)
    assert result.outputs[0].provenance.provider_id == "synthetic"


def test_the_sync_client_takes_the_same_tls(certs: Path, router: ServerProcess) -> None:
    with SyncPrizmClient(router.address, tls=_caller(certs)) as client:
        result = client.run("text-to-text", "sync", options={"events": 0, "output_bytes": 8})
    assert result.outputs[0].data == b"syncsync"


def test_the_cli_calls_a_tls_router_with_its_flags_or_the_environment(
    certs: Path, router: ServerProcess
) -> None:
    flags = (
        "--ca",
        str(certs / "ca.pem"),
        "--cert",
        str(certs / "caller.pem"),
        "--key",
        str(certs / "caller.key"),
    )
    ran = _prizm(
        "run", "text-to-text", "cli", "--option", "events=0", "-o", "-", "--router", router.address, *flags
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.encode() == synthetic_output(b"cli", 1024)
    env = {"PRIZM_TLS_CA": str(certs / "ca.pem"), "PRIZM_TLS_CERT": str(certs / "caller.pem")}
    env["PRIZM_TLS_KEY"] = str(certs / "caller.key")
    listed = _prizm("providers", "--json", "--router", router.address, **env)
    assert listed.returncode == 0, listed.stderr
    assert "synthetic" in listed.stdout


def test_a_plaintext_caller_is_told_the_router_speaks_tls(router: ServerProcess) -> None:
    ran = _prizm("providers", "--router", router.address)
    assert ran.returncode == 1
    said = f"the router at {router.address} speaks TLS: pass --ca CA.pem (or set PRIZM_TLS_CA)"
    assert ran.stderr.strip() == f"error: UNAVAILABLE: {said}"


def test_a_caller_without_a_certificate_is_refused_by_an_mtls_router(
    certs: Path, router: ServerProcess
) -> None:
    ran = _prizm("providers", "--router", router.address, "--ca", str(certs / "ca.pem"))
    assert ran.returncode == 1
    assert "refused the TLS handshake: it may require a client certificate (--cert, --key)" in ran.stderr


async def test_a_tls_caller_of_a_plaintext_router_is_told_to_drop_the_ca(certs: Path) -> None:
    plain = GrpcServer(ServeSettings(), [])
    await plain.start()
    try:
        args = ("providers", "--router", plain.address, "--ca", str(certs / "ca.pem"))
        ran = await asyncio.to_thread(_prizm, *args)
    finally:
        await plain.stop()
    assert ran.returncode == 1
    said = f"the router at {plain.address} does not speak TLS: drop --ca (and PRIZM_TLS_CA)"
    assert ran.stderr.strip() == f"error: UNAVAILABLE: {said}"


def test_health_probe_speaks_tls_with_the_routers_certificate(certs: Path, provider: ServerProcess) -> None:
    client = ("--cert", str(certs / "router-client.pem"), "--key", str(certs / "router-client.key"))
    ran = _prizm("health-probe", provider.address, "--ca", str(certs / "ca.pem"), *client)
    assert (ran.returncode, ran.stdout.strip()) == (0, f"SERVING: the server at {provider.address}")
    ran = _prizm("health-probe", provider.address, "--ca", str(certs / "ca.pem"))
    assert (ran.returncode, ran.stderr.strip()) == (1, f"unreachable: nothing answers at {provider.address}")


async def test_a_provider_registers_with_a_tls_router_as_a_caller_does(
    certs: Path, router: ServerProcess
) -> None:
    env = {"PRIZM_TLS_CA": str(certs / "ca.pem"), "PRIZM_TLS_CERT": str(certs / "caller.pem")}
    env["PRIZM_TLS_KEY"] = str(certs / "caller.key")
    served = ("--tls-cert", str(certs / "provider.pem"), "--tls-key", str(certs / "provider.key"))
    admits = ("--tls-client-ca", str(certs / "ca.pem"))
    joined = start_provider("synthetic", "--register", router.address, *served, *admits, env=env)
    try:
        async with PrizmClient(router.address, tls=_caller(certs)) as client:

            async def registered() -> bool:
                endpoints = await client.list_providers()
                return any(
                    e.address == joined.address and e.state == router_pb.ENDPOINT_STATE_SERVING
                    for e in endpoints
                )

            await wait_until(registered, 30, interval=0.05)
    finally:
        joined.stop()


async def _check(address: str, tls: ClientTls | None) -> grpc.aio.AioRpcError | None:
    async with open_channel(address, tls) as channel:
        try:
            stub = health_pb2_grpc.HealthStub(channel)
            # The grpcio-health-checking stubs declare HealthStub without its methods.
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)  # type: ignore[attr-defined]
        except grpc.aio.AioRpcError as refused:
            return refused
    return None


async def test_the_provider_admits_the_router_only(
    certs: Path, stranger: Path, provider: ServerProcess
) -> None:
    ca = certs / "ca.pem"
    assert (
        await _check(
            provider.address, ClientTls(ca, certs / "router-client.pem", certs / "router-client.key")
        )
        is None
    )
    for who, tls in {
        "no certificate": ClientTls(ca),
        "another CA's certificate": ClientTls(
            ca, stranger / "router-client.pem", stranger / "router-client.key"
        ),
        "plaintext": None,
    }.items():
        refused = await _check(provider.address, tls)
        assert refused is not None, who
        assert refused.code() == grpc.StatusCode.UNAVAILABLE, who
        assert REFUSED in (refused.details() or ""), (who, refused.details())


def _served_serial(port: int, ca: Path) -> int:
    """The serial of the certificate a new TLS connection to `port` is shown."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        der = wrapped.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


async def test_replaced_certificate_files_are_served_without_a_restart(
    certs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "live"
    shutil.copytree(certs, folder)
    server = GrpcServer(ServeSettings(tls=ServerTls(folder / "router.pem", folder / "router.key")), [])
    await server.start()
    await server.set_serving(True)
    ca = folder / "ca.pem"
    try:
        first = await asyncio.to_thread(_served_serial, server.port, ca)
        assert first == _serial(folder / "router.pem")
        kept = folder / "old.key"
        shutil.copy(folder / "router.key", kept)
        renewed = _serial(issue(folder, "router", force=True).cert)
        assert await asyncio.to_thread(_served_serial, server.port, ca) == renewed != first
        assert await _check(server.address, ClientTls(ca)) is None  # gRPC callers too
        # Half replaced (a new certificate, the old key back): the last good pair is still served,
        # and the log says why the files on disk are not.
        shutil.copy(kept, folder / "router.key")
        assert await asyncio.to_thread(_served_serial, server.port, ca) == renewed
        assert "changed but cannot be used yet: the certificate does not belong to the key" in caplog.text
    finally:
        await server.stop()


def test_prizm_up_tls_runs_the_mesh_with_tls_end_to_end(tmp_path: Path) -> None:
    config = tmp_path / "up.yaml"
    config.write_text(json.dumps({"sidecars": ["synthetic"]}), encoding="utf-8")
    home = tmp_path / "home"
    command = [
        sys.executable,
        "-m",
        "prizm_core.cli",
        "up",
        "--tls",
        "--config",
        str(config),
        "--listen",
        "127.0.0.1:0",
    ]
    router = start_server(command, {"PRIZM_HOME": str(home)})
    try:
        ca = home / "certs" / "ca.pem"
        big = tmp_path / "big.txt"
        big.write_bytes(b"0123456789" * 500_000)  # 5 MB: over the inline limit, so sent by reference
        asyncio.run(_job_through(router.address, ca, big))
        assert f"callers pass --ca {ca}" in router.log_text()
        assert _prizm("providers", "--router", router.address).returncode == 1  # plaintext is refused
    finally:
        router.stop()


async def _job_through(address: str, ca: Path, big: Path) -> None:
    """A small job, and one whose input is uploaded: the provider fetches it from the router over TLS."""
    async with PrizmClient(address, tls=ClientTls(ca)) as client:
        await _serving(client)
        small = await client.run("text-to-text", "up", options={"events": 0, "output_bytes": 10})
        fetched = await client.run("text-to-text", big, options={"events": 0, "output_bytes": 12})
    assert small.outputs[0].data == b"upupupupup"
    assert fetched.outputs[0].data == b"012345678901"


@pytest.fixture(scope="module")
def cert_router(certs: Path) -> Iterator[ServerProcess]:
    """A router that requires client certificates and knows callers by them (`auth.certificates`):
    `ops-cert` (by its CN) is the operator, `alice-cert` (by its SAN) a plain caller."""
    issue(certs, "ops-cert", dns=(), ips=(), client=True)
    issue(certs, "alice-cert", dns=("alice.callers.prizm.test",), ips=(), client=True)
    tls = {"cert": "router.pem", "key": "router.key", "client_ca": "ca.pem"}
    auth = {
        "callers": {"ops": {"operator": True}, "alice": {}},
        "certificates": [
            {"common_name": "ops-cert", "caller": "ops"},
            {"san": "alice.callers.prizm.test", "caller": "alice"},
        ],
    }
    config = certs / "cert-router.yaml"
    config.write_text(json.dumps({"tls": tls, "auth": auth}), encoding="utf-8")
    server = start_router(config)
    yield server
    server.stop()


async def _as_holder(router: str, certs: Path, name: str, request: object) -> grpc.aio.AioRpcError | None:
    """Calls the router with the client certificate `name`, no other credential; the error, if any."""
    tls = ClientTls(certs / "ca.pem", certs / f"{name}.pem", certs / f"{name}.key")
    async with open_channel(router, tls) as channel:
        stub = router_grpc.RouterServiceStub(channel)
        try:
            if isinstance(request, router_pb.RegisterProviderRequest):
                await stub.RegisterProvider(request, timeout=10)
            elif isinstance(request, router_pb.DeregisterProviderRequest):
                await stub.DeregisterProvider(request, timeout=10)
            else:
                await stub.ListProviders(router_pb.ListProvidersRequest(), timeout=10)
        except grpc.aio.AioRpcError as exc:
            return exc
    return None


def _reason(error: grpc.aio.AioRpcError | None) -> tuple[str, str]:
    assert error is not None
    return error.code().name, PrizmError.from_rpc_error(error).reason


async def test_a_client_certificate_mapped_to_an_operator_is_an_operator_credential(
    certs: Path, cert_router: ServerProcess, provider: ServerProcess
) -> None:
    router = cert_router.address
    register = router_pb.RegisterProviderRequest(address=provider.address)
    deregister = router_pb.DeregisterProviderRequest(address=provider.address)
    assert await _as_holder(router, certs, "ops-cert", register) is None
    # A caller's certificate: a caller, not an operator; one mapped to no caller is no credential.
    assert await _as_holder(router, certs, "alice-cert", None) is None
    assert _reason(await _as_holder(router, certs, "alice-cert", deregister)) == (
        "PERMISSION_DENIED",
        "OPERATOR_ONLY",
    )
    assert _reason(await _as_holder(router, certs, "caller", deregister)) == (
        "UNAUTHENTICATED",
        "CREDENTIALS_MISSING",
    )
    assert _reason(await _as_holder(router, certs, "caller", None)) == (
        "UNAUTHENTICATED",
        "CREDENTIALS_MISSING",
    )
    assert await _as_holder(router, certs, "ops-cert", deregister) is None
    async with PrizmClient(
        router, tls=ClientTls(certs / "ca.pem", certs / "ops-cert.pem", certs / "ops-cert.key")
    ) as ops:
        assert provider.address not in [e.address for e in await ops.list_providers()]


def test_prizm_up_with_a_tls_section_launches_its_sidecars_serving_tls(tmp_path: Path) -> None:
    make_mesh(tmp_path / "certs")
    tls = {"cert": "certs/router.pem", "key": "certs/router.key", "ca": "certs/ca.pem"}
    tls |= {"client_cert": "certs/router-client.pem", "client_key": "certs/router-client.key"}
    config = tmp_path / "up.yaml"
    config.write_text(json.dumps({"sidecars": ["synthetic"], "tls": tls}), encoding="utf-8")
    command = up_command(config)
    router = start_server(command, {"PRIZM_HOME": str(tmp_path / "home")})
    try:
        big = tmp_path / "big.txt"
        big.write_bytes(b"0123456789" * 500_000)  # fetched by the sidecar from the router, over TLS
        asyncio.run(_job_through(router.address, tmp_path / "certs" / "ca.pem", big))
        asyncio.run(_sidecar_admits_the_router_only(router.address, tmp_path / "certs"))
    finally:
        router.stop()


async def _sidecar_admits_the_router_only(router: str, certs: Path) -> None:
    """The sidecar serves TLS and refuses a client without the router's certificate."""
    ca = certs / "ca.pem"
    async with PrizmClient(router, tls=ClientTls(ca)) as client:
        (sidecar,) = [e.address for e in await client.list_providers()]
    assert (
        await _check(sidecar, ClientTls(ca, certs / "router-client.pem", certs / "router-client.key")) is None
    )
    for tls in (ClientTls(ca), None):
        refused = await _check(sidecar, tls)
        assert refused is not None and REFUSED in (refused.details() or "")


def test_health_probe_checks_a_certificate_for_another_name_with_server_name(certs: Path) -> None:
    """A Pod probes itself on 127.0.0.1 while its certificate names its Service (the Helm chart)."""
    issue(certs, "service-only", dns=("prizm-router.media.svc",), ips=())
    server = start_provider(
        "synthetic",
        "--tls-cert",
        str(certs / "service-only.pem"),
        "--tls-key",
        str(certs / "service-only.key"),
    )
    try:
        ca = ("--ca", str(certs / "ca.pem"))
        ran = _prizm("health-probe", server.address, *ca, "--server-name", "prizm-router.media.svc")
        assert (ran.returncode, ran.stdout.strip()) == (0, f"SERVING: the server at {server.address}")
        ran = _prizm("health-probe", server.address, *ca)  # 127.0.0.1 is not a name of the certificate
        assert ran.returncode == 1
    finally:
        server.stop()
