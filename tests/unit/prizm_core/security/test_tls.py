"""Server TLS settings: a provider's flags, and a certificate that is not its key's refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from prizm_core.security.certs import make_mesh
from prizm_core.security.tls import ClientTls, ServerTls, caller_tls
from prizm_core.serving import GrpcServer, ServeSettings
from provider_servers.sdk.harness import parse_settings


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    make_mesh(folder)
    return folder


def test_a_providers_flags_make_it_serve_mtls(certs: Path) -> None:
    pair = ("--tls-cert", str(certs / "provider.pem"), "--tls-key", str(certs / "provider.key"))
    settings = parse_settings("synthetic", [*pair, "--tls-client-ca", str(certs / "ca.pem")])
    assert settings.serve.tls == ServerTls(certs / "provider.pem", certs / "provider.key", certs / "ca.pem")
    assert parse_settings("synthetic", []).serve.tls is None


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--tls-cert", "provider.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "ca.pem"], "--tls-client-ca needs --tls-cert and --tls-key"),
        (["--tls-cert", "gone.pem", "--tls-key", "provider.key"], "--tls-cert: no such file: "),
    ],
)
def test_bad_provider_tls_flags_exit_with_usage(
    certs: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    problem: str,
) -> None:
    monkeypatch.chdir(certs)
    with pytest.raises(SystemExit) as exited:
        parse_settings("synthetic", argv)
    assert exited.value.code == 2
    assert problem in capsys.readouterr().err


async def test_a_certificate_with_another_key_is_refused_at_start(certs: Path) -> None:
    server = GrpcServer(ServeSettings(tls=ServerTls(certs / "router.pem", certs / "provider.key")), [])
    with pytest.raises(
        OSError, match=r"router\.pem and .*provider\.key: the certificate does not belong to the key"
    ):
        await server.start()


def test_a_caller_takes_flags_over_the_environment(certs: Path) -> None:
    environ = {"PRIZM_TLS_CA": "/env/ca.pem", "PRIZM_TLS_CERT": "/env/c.pem", "PRIZM_TLS_KEY": "/env/c.key"}
    assert caller_tls(environ, ca=str(certs / "ca.pem")) == ClientTls(
        certs / "ca.pem", Path("/env/c.pem"), Path("/env/c.key")
    )
    assert caller_tls({}) is None
    with pytest.raises(ValueError, match="a client certificate needs its key"):
        caller_tls({"PRIZM_TLS_CERT": "/env/c.pem"})
