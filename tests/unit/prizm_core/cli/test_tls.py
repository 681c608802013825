"""The CLI's TLS flags and what it says about a TLS mismatch, against real servers on loopback."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from prizm_core.cli.serve import add_serve_commands
from prizm_core.cli.tls import transport_hint, with_tls_flags
from prizm_core.config import ConfigError, RouterConfig, SidecarSpec
from prizm_core.security.certs import make_mesh
from prizm_core.security.tls import ServerTls
from prizm_core.serving import GrpcServer, ServeSettings

# The status message gRPC makes when a server closes the connection during the handshake.
CLOSED = "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: Socket closed"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    make_mesh(folder)
    return folder


@pytest.fixture(autouse=True)
def _no_caller_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PRIZM_TLS_CA", "PRIZM_TLS_CERT", "PRIZM_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)


async def _hint_from(settings: ServeSettings, message: str) -> str | None:
    server = GrpcServer(settings, [])
    await server.start()
    try:
        return await asyncio.to_thread(transport_hint, message, server.address)
    finally:
        await server.stop()


async def test_a_closed_socket_from_a_tls_router_means_pass_the_ca(certs: Path) -> None:
    tls = ServerTls(certs / "router.pem", certs / "router.key", client_ca=certs / "ca.pem")
    hint = await _hint_from(ServeSettings(tls=tls), CLOSED)
    assert hint is not None and hint.endswith("speaks TLS: pass --ca CA.pem (or set PRIZM_TLS_CA)")


async def test_a_closed_socket_from_a_plaintext_router_says_nothing_of_tls() -> None:
    assert await _hint_from(ServeSettings(), CLOSED) is None


def test_the_handshake_errors_of_a_tls_caller_are_put_in_words() -> None:
    wrong = "last error: UNKNOWN: Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: "
    said = transport_hint(wrong + "WRONG_VERSION_NUMBER", "r:1")
    assert said == "the router at r:1 does not speak TLS: drop --ca (and PRIZM_TLS_CA)"
    said = transport_hint(wrong + "CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate", "r:1")
    assert said == "the certificate of the router at r:1 is not signed by the CA given with --ca"
    assert transport_hint("failed to connect to all addresses; Connection refused", "r:1") is None


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def _server_flags(certs: Path) -> tuple[str, ...]:
    return ("--tls-cert", str(certs / "router.pem"), "--tls-key", str(certs / "router.key"))


def test_flags_go_over_the_config_file(certs: Path) -> None:
    config = RouterConfig()
    tls = with_tls_flags(config, _args("router", *_server_flags(certs))).tls
    assert tls.server == ServerTls(certs / "router.pem", certs / "router.key") and tls.client is None
    with pytest.raises(ConfigError, match="flags: tls: Value error, cert and key go together"):
        with_tls_flags(config, _args("router", "--tls-cert", str(certs / "router.pem")))
    with pytest.raises(ConfigError, match="do not reach --workers routers"):
        with_tls_flags(config, _args("router", "--workers", "2", *_server_flags(certs)))


def test_up_tls_makes_the_mesh_and_puts_every_sidecar_on_tls(tmp_path: Path) -> None:
    folder = tmp_path / "certs"
    config = RouterConfig(sidecars=(SidecarSpec("synthetic", args=("--max-jobs", "2")),))
    made = with_tls_flags(config, _args("up", "--tls", "--certs", str(folder)))
    assert made.tls.server == ServerTls(folder / "router.pem", folder / "router.key")
    assert made.tls.client is not None and made.tls.client.cert == folder / "router-client.pem"
    (sidecar,) = made.sidecars
    assert sidecar.args == (
        *("--max-jobs", "2", "--tls-cert", str(folder / "provider.pem")),
        *("--tls-key", str(folder / "provider.key"), "--tls-client-ca", str(folder / "ca.pem")),
    )
    assert ("PRIZM_TLS_CA", str(folder / "ca.pem")) in sidecar.env
    before = (folder / "ca.pem").read_bytes()
    with_tls_flags(config, _args("up", "--tls", "--certs", str(folder)))
    assert (folder / "ca.pem").read_bytes() == before  # the second run uses the certificates there
