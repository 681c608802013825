"""TLS flags of `prizm`: a caller's `--ca/--cert/--key`, a router's `--tls-*`, and `prizm up --tls`."""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prizm_core.config import RouterConfig
    from prizm_core.security.tls import RouterTls

__all__ = [
    "add_caller_tls_flags",
    "add_router_tls_flags",
    "quiet_transport_logs",
    "transport_hint",
    "with_tls_flags",
]

# A caller's flags and the variables the client reads them from (prizm_core.security.tls).
_CALLER_FLAGS = (
    ("--ca", "PRIZM_TLS_CA", "CA that signs the router's certificate: speak TLS to it"),
    ("--cert", "PRIZM_TLS_CERT", "client certificate, for a router that requires one"),
    ("--key", "PRIZM_TLS_KEY", "the client certificate's private key"),
)
# `tls:` keys a router takes as flags too: `--tls-cert` sets `cert`, and so on.
_ROUTER_KEYS = ("cert", "key", "client_ca", "ca", "client_cert", "client_key")
_ROUTER_HELP = {
    "cert": "serve TLS with this certificate chain",
    "key": "its private key",
    "client_ca": "require callers' client certificates signed by this CA",
    "ca": "CA that signs the providers' certificates: dial them over TLS",
    "client_cert": "the router's certificate towards providers that require one",
    "client_key": "its private key",
}
_PROBE_TIMEOUT_S = 1.0
_SERVER_COMMANDS = frozenset({"up", "router", "serve-provider"})


class _Export(argparse.Action):
    """Sets the variable the client reads, so every command that calls the router dials alike."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        path = Path(str(values)).expanduser()
        if not path.is_file():
            parser.error(f"{option_string}: no such file: {path}")
        os.environ[str(self.const)] = str(path.resolve())


def add_caller_tls_flags(parser: argparse.ArgumentParser) -> None:
    """`--ca`, `--cert` and `--key` (default: `PRIZM_TLS_CA`, `PRIZM_TLS_CERT`, `PRIZM_TLS_KEY`)."""
    for flag, variable, about in _CALLER_FLAGS:
        parser.add_argument(
            flag,
            action=_Export,
            const=variable,
            default=argparse.SUPPRESS,
            metavar="PEM",
            help=f"{about} (default ${variable})",
        )


def add_router_tls_flags(command: argparse.ArgumentParser, *, up: bool = False) -> None:
    """`--tls-cert` ... `--tls-client-key` (over the config's `tls:`); `--tls` and `--certs` for `up`."""
    for key in _ROUTER_KEYS:
        flag = "--tls-" + key.replace("_", "-")
        command.add_argument(flag, type=Path, metavar="PEM", help=_ROUTER_HELP[key])
    if up:
        command.add_argument(
            "--tls",
            action="store_true",
            help="TLS on every hop with the certificates of `prizm certs` (made if missing)",
        )
        command.add_argument(
            "--certs", type=Path, metavar="DIR", help="their folder (default $PRIZM_HOME/certs)"
        )


def _mesh_config(config: RouterConfig, folder: Path) -> RouterConfig:
    """`config` with TLS on every hop, using (or first making) the mesh certificates in `folder`."""
    from prizm_core.config import ConfigError  # noqa: PLC0415 - the CLI imports a command's needs late
    from prizm_core.security.certs import CertsError, make_mesh, mesh_ready  # noqa: PLC0415
    from prizm_core.security.tls import CA_ENV, ClientTls, RouterTls, ServerTls  # noqa: PLC0415

    try:
        if not mesh_ready(folder):
            make_mesh(folder)
            print(f"made a local CA and certificates in {folder}", file=sys.stderr)
    except CertsError as exc:
        raise ConfigError(f"--tls: {exc}") from None
    ca = folder / "ca.pem"
    # Sidecars serve TLS with the provider certificate and admit only clients the mesh CA signed
    # (the router): `_with_sidecar_tls` gives them that, as it does for a config's `tls:` section.
    tls = RouterTls(
        server=ServerTls(folder / "router.pem", folder / "router.key"),
        client=ClientTls(ca, folder / "router-client.pem", folder / "router-client.key"),
        sidecar=ServerTls(folder / "provider.pem", folder / "provider.key", ca),
    )
    print(f"TLS on every hop; callers pass --ca {ca} (or export {CA_ENV}={ca})", file=sys.stderr)
    return dataclasses.replace(config, tls=tls)


def _section_values(tls: RouterTls) -> dict[str, Path]:
    """The `tls:` keys of a `RouterTls`, without those unset."""
    server, client = tls.server, tls.client
    values = {
        "cert": server and server.cert,
        "key": server and server.key,
        "client_ca": server and server.client_ca,
        "ca": client and client.ca,
        "client_cert": client and client.cert,
        "client_key": client and client.key,
    }
    return {key: value for key, value in values.items() if value}


def with_tls_flags(config: RouterConfig, args: argparse.Namespace) -> RouterConfig:
    """`config` (a `RouterConfig`) with `--tls` and the `--tls-*` flags over its `tls:` section.

    Raises:
        ConfigError: An incomplete pair, a missing file, or TLS flags with `--workers` (whose
            routers read the config file only: put TLS in its `tls:` section).
    """
    from prizm_core.config import ConfigError  # noqa: PLC0415
    from prizm_core.config_values import section  # noqa: PLC0415
    from prizm_core.installed import prizm_home  # noqa: PLC0415
    from prizm_core.security.tls import TlsSection  # noqa: PLC0415

    flags = {key: getattr(args, "tls_" + key) for key in _ROUTER_KEYS if getattr(args, "tls_" + key, None)}
    if getattr(args, "tls", False):
        config = _mesh_config(config, args.certs or prizm_home(os.environ) / "certs")
    if flags:
        if getattr(args, "workers", 1) > 1:
            raise ConfigError("--tls-* flags do not reach --workers routers: use the config's tls: section")
        merged = {**_section_values(config.tls), **{key: str(value) for key, value in flags.items()}}
        tls = section(TlsSection, {"tls": merged}, "tls", "flags").resolved(Path.cwd(), "flags")
        if getattr(args, "tls", False):  # the mesh's sidecars keep their own certificate
            tls = dataclasses.replace(tls, sidecar=config.tls.sidecar)
        config = dataclasses.replace(config, tls=tls)
    return _with_sidecar_tls(config)


def _with_sidecar_tls(config: RouterConfig) -> RouterConfig:
    """`config` with its sidecars serving TLS as its `tls:` (or `--tls`) says: the one place they get it.

    Raises:
        ConfigError: The router dials providers over TLS but has no certificate for its sidecars.
    """
    from prizm_core.security.tls import sidecar_tls  # noqa: PLC0415

    args, env = sidecar_tls(config.tls, bool(config.sidecars))
    if not args:
        return config
    sidecars = tuple(
        dataclasses.replace(spec, args=(*spec.args, *args), env=(*spec.env, *env)) for spec in config.sidecars
    )
    return dataclasses.replace(config, sidecars=sidecars)


def _speaks_tls(address: str) -> bool:
    """Whether the server at `address` answers a TLS handshake (its certificate is not checked)."""
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        raw = socket.create_connection((host.strip("[]"), int(port)), timeout=_PROBE_TIMEOUT_S)
        with raw, context.wrap_socket(raw, server_hostname=host.strip("[]")):
            return True
    except ssl.SSLError as exc:
        # A TLS alert ("certificate required", "handshake failure") is a TLS server talking; bytes
        # that are no TLS record at all (WRONG_VERSION_NUMBER: an HTTP/2 GOAWAY) are not.
        return "ALERT" in str(exc.reason or "").upper()
    except (OSError, ValueError):
        return False


def transport_hint(message: str, router: str) -> str | None:
    """What a connection failure of a CLI command says about TLS, if anything.

    Args:
        message: The status message gRPC made (`failed to connect ...; last error: ...`).
        router: The address the command dialled.
    """
    text = message.lower()
    tls_used = bool(os.environ.get("PRIZM_TLS_CA") or os.environ.get("PRIZM_TLS_CERT"))
    if "wrong_version_number" in text:
        return f"the router at {router} does not speak TLS: drop --ca (and PRIZM_TLS_CA)"
    if "certificate_verify_failed" in text:
        return f"the certificate of the router at {router} is not signed by the CA given with --ca"
    if "socket closed" not in text and "connection reset" not in text:
        return None
    if not tls_used and _speaks_tls(router):
        return f"the router at {router} speaks TLS: pass --ca CA.pem (or set PRIZM_TLS_CA)"
    if tls_used:
        return (
            f"the router at {router} refused the TLS handshake: "
            "it may require a client certificate (--cert, --key)"
        )
    return None


def quiet_transport_logs(argv: Sequence[str]) -> None:
    """Keeps gRPC's core to errors in a caller's command, unless `GRPC_VERBOSITY` says otherwise.

    A failed TLS handshake makes the core write an INFO line of its own before the command says
    in words what went wrong (`explain`); servers keep the core's lines, which their logs relay.
    Read when gRPC loads, so it must run before any command module is imported.
    """
    if not _SERVER_COMMANDS.intersection(argv):
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
