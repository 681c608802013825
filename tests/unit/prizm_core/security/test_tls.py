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


def test_a_tls_section_makes_sidecars_serve_tls_and_require_the_routers_certificate(certs: Path) -> None:
    from prizm_core.config import parse_config  # noqa: PLC0415
    from prizm_core.config_values import ConfigError  # noqa: PLC0415
    from prizm_core.security.tls import sidecar_tls  # noqa: PLC0415

    tls = {"cert": "router.pem", "key": "router.key", "ca": "ca.pem"}
    mutual = {**tls, "client_cert": "router-client.pem", "client_key": "router-client.key"}
    args, env = sidecar_tls(parse_config({"tls": mutual}, "up.yaml", certs).tls, True)
    ca = str((certs / "ca.pem").resolve())
    assert args == (
        *("--tls-cert", str((certs / "router.pem").resolve())),
        *("--tls-key", str((certs / "router.key").resolve())),
        *("--tls-client-ca", ca),
    )
    assert env == (("PRIZM_TLS_CA", ca),)
    # Without a client certificate to show, the sidecars serve TLS to anyone on loopback.
    assert "--tls-client-ca" not in sidecar_tls(parse_config({"tls": tls}, "up.yaml", certs).tls, True)[0]
    assert sidecar_tls(parse_config({}, "up.yaml", certs).tls, True) == ((), ())
    dials_only = parse_config({"tls": {"ca": "ca.pem"}}, "up.yaml", certs).tls
    assert sidecar_tls(dials_only, False) == ((), ())
    with pytest.raises(ConfigError, match=r"tls\.ca: the router dials its sidecars over TLS"):
        sidecar_tls(dials_only, True)
