"""TLS on every hop: server credentials that reload their files, channel credentials, the `tls:` section."""

from __future__ import annotations

import argparse
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import grpc
import pydantic

from prizm_core.config_values import ConfigError, section

__all__ = [
    "CA_ENV",
    "CERT_ENV",
    "KEY_ENV",
    "ClientTls",
    "RouterTls",
    "ServerTls",
    "TlsSection",
    "add_provider_tls_flags",
    "caller_tls",
    "channel_credentials",
    "provider_tls",
    "read_router_tls",
    "server_credentials",
    "sidecar_tls",
]

log = logging.getLogger(__name__)

# What a caller (the CLI, `PrizmClient`) reads when it is given no TLS settings of its own.
CA_ENV = "PRIZM_TLS_CA"
CERT_ENV = "PRIZM_TLS_CERT"
KEY_ENV = "PRIZM_TLS_KEY"


@dataclass(frozen=True)
class ServerTls:
    """How a server speaks TLS.

    Attributes:
        cert: Its certificate chain (PEM), leaf first.
        key: The certificate's private key (PEM).
        client_ca: CA bundle (PEM) that signs the clients allowed in; when set, a client without a
            certificate it signed is refused during the handshake (mTLS).
    """

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True)
class ClientTls:
    """How a client dials a TLS server.

    Attributes:
        ca: CA bundle (PEM) that signs the server's certificate; the system's roots when None.
        cert: The client's own certificate chain (PEM), for servers that require one (mTLS).
        key: Its private key (PEM); set together with `cert`.
    """

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


@dataclass(frozen=True)
class RouterTls:
    """The router's TLS: how it serves its callers and how it dials its providers.

    Attributes:
        server: Serve callers over TLS; plaintext when None.
        client: Dial providers over TLS; plaintext when None.
        sidecar: How the providers the router launches (sidecars) serve it; plaintext when None.
    """

    server: ServerTls | None = None
    client: ClientTls | None = None
    sidecar: ServerTls | None = None


class TlsSection(pydantic.BaseModel):
    """The router config's `tls:` section; paths are relative to the config file."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    cert: Path | None = pydantic.Field(None, description="the router's certificate chain (PEM)")
    key: Path | None = pydantic.Field(None, description="its private key (PEM)")
    client_ca: Path | None = pydantic.Field(
        None, description="CA of the callers admitted; requires client certs"
    )
    ca: Path | None = pydantic.Field(None, description="CA that signs the providers' certificates")
    client_cert: Path | None = pydantic.Field(None, description="the router's certificate towards providers")
    client_key: Path | None = pydantic.Field(None, description="its private key")

    @pydantic.model_validator(mode="after")
    def _pairs(self) -> Self:
        # Each certificate needs its key and the other way round; client_ca only means something
        # for a router that serves TLS at all.
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together")
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together")
        if self.client_ca is not None and self.cert is None:
            raise ValueError("client_ca needs cert and key: client certificates are asked for over TLS only")
        return self

    def resolved(self, base: Path, where: str) -> RouterTls:
        """The section as `RouterTls`, its paths taken from `base`, each file checked to be there.

        Raises:
            ConfigError: Naming the key whose file is missing.
        """
        paths: dict[str, Path | None] = {}
        for name in type(self).model_fields:
            value: Path | None = getattr(self, name)
            if value is not None:
                value = (base / value.expanduser()).resolve()
                if not value.is_file():
                    raise ConfigError(f"{where}: tls.{name}: no such file: {value}")
            paths[name] = value
        server = None
        if paths["cert"] is not None and paths["key"] is not None:
            server = ServerTls(paths["cert"], paths["key"], paths["client_ca"])
        client = None
        if paths["ca"] is not None or paths["client_cert"] is not None:
            client = ClientTls(paths["ca"], paths["client_cert"], paths["client_key"])
        sidecar = None
        if server is not None and client is not None and client.ca is not None:
            # Sidecars listen on loopback, where the router's own certificate is valid (one CA, as
            # `prizm certs` makes): they serve with it, and with a client certificate to show, admit
            # only clients the same CA signed.
            sidecar = ServerTls(server.cert, server.key, client.ca if client.cert is not None else None)
        return RouterTls(server, client, sidecar)


def read_router_tls(data: Mapping[str, Any], source: str, base: Path) -> RouterTls:
    """The `tls:` section of a router config (plaintext everywhere when absent).

    Raises:
        ConfigError: A field is unknown, a pair incomplete, or a file missing.
    """
    return section(TlsSection, data, "tls", source).resolved(base, source)


def caller_tls(environ: Mapping[str, str], ca: str = "", cert: str = "", key: str = "") -> ClientTls | None:
    """A caller's TLS from its flags, else from `PRIZM_TLS_CA`, `PRIZM_TLS_CERT` and `PRIZM_TLS_KEY`.

    Returns:
        None (plaintext) when neither names a CA or a certificate.

    Raises:
        ValueError: A certificate without its key or the other way round.
    """
    ca = ca or environ.get(CA_ENV, "")
    cert = cert or environ.get(CERT_ENV, "")
    key = key or environ.get(KEY_ENV, "")
    if bool(cert) != bool(key):
        raise ValueError(
            f"a client certificate needs its key: give both --cert and --key ({CERT_ENV}, {KEY_ENV})"
        )
    if not ca and not cert:
        return None
    return ClientTls(Path(ca) if ca else None, Path(cert) if cert else None, Path(key) if key else None)


def channel_credentials(tls: ClientTls) -> grpc.ChannelCredentials:
    """Credentials for a new channel, read from the files now: a channel made later reads them again.

    Raises:
        OSError: A file cannot be read.
    """
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca.read_bytes() if tls.ca else None,
        private_key=tls.key.read_bytes() if tls.key else None,
        certificate_chain=tls.cert.read_bytes() if tls.cert else None,
    )


@dataclass(frozen=True)
class _Pem:
    cert: bytes
    key: bytes
    client_ca: bytes | None

    @classmethod
    def read(cls, tls: ServerTls) -> _Pem:
        cert, key = tls.cert.read_bytes(), tls.key.read_bytes()
        _check_pair(cert, key)
        return cls(cert, key, tls.client_ca.read_bytes() if tls.client_ca else None)

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(self.key, self.cert)], self.client_ca)


def _check_pair(cert: bytes, key: bytes) -> None:
    """Refuses a certificate whose key is not `key`: a pair caught half replaced must not be served."""
    # Imported here: `prizm health-probe` loads this module and must stay quick.
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    try:
        public = x509.load_pem_x509_certificate(cert).public_key()
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM certificate and unencrypted key: {exc}") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if public.public_bytes(der, spki) != private.public_key().public_bytes(der, spki):
        raise ValueError("the certificate does not belong to the key")


class _Reloader:
    """gRPC's certificate fetcher: a new configuration when the files changed, else None.

    gRPC calls it before each new handshake; a stat of three files is all it costs while nothing
    changes. Files caught half written (a certificate with the old key) are skipped until both agree.
    """

    def __init__(self, tls: ServerTls, pem: _Pem) -> None:
        self._tls = tls
        self._pem = pem
        self._stamp = self._stat()

    def _stat(self) -> tuple[tuple[int, int, int], ...]:
        files = [self._tls.cert, self._tls.key, *([self._tls.client_ca] if self._tls.client_ca else [])]
        stamps = []
        for path in files:
            try:
                found = path.stat()
            except OSError:
                stamps.append((0, 0, 0))
            else:
                stamps.append((found.st_ino, found.st_size, found.st_mtime_ns))
        return tuple(stamps)

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        stamp = self._stat()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            pem = _Pem.read(self._tls)
        except (OSError, ValueError) as exc:
            log.warning("TLS files of %s changed but cannot be used yet: %s", self._tls.cert, exc)
            return None
        if pem == self._pem:
            return None
        self._pem = pem
        log.info("TLS certificate reloaded from %s (sha256 %s)", self._tls.cert, _digest(pem.cert))
        return pem.configuration()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def server_credentials(tls: ServerTls) -> grpc.ServerCredentials:
    """Server credentials that pick up new certificate files on the next handshake, no restart.

    Connections already open keep the certificate they were made with.

    Raises:
        OSError: A file cannot be read, or the certificate and key are not PEM or do not belong
            together: either way the server cannot listen as asked.
    """
    try:
        pem = _Pem.read(tls)
    except ValueError as exc:
        raise OSError(f"cannot serve TLS with {tls.cert} and {tls.key}: {exc}") from None
    return grpc.dynamic_ssl_server_credentials(
        pem.configuration(),
        # gRPC's documented contract is None for "no change"; its stubs leave the None out.
        _Reloader(tls, pem),  # type: ignore[arg-type]
        require_client_authentication=tls.client_ca is not None,
    )


def sidecar_tls(tls: RouterTls, sidecars: bool) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The flags and environment that make a sidecar serve TLS as `tls.sidecar` says.

    A sidecar also calls the router (uploaded inputs): it trusts the CA the router dials it with.

    Raises:
        ConfigError: The router dials providers over TLS but has no certificate for its sidecars.
    """
    served = tls.sidecar
    if served is None:
        if sidecars and tls.client is not None and tls.client.ca is not None:
            raise ConfigError(
                "tls.ca: the router dials its sidecars over TLS, so they need a certificate to serve: "
                "give tls.cert and tls.key (signed by tls.ca, valid for 127.0.0.1)"
            )
        return (), ()
    args: tuple[str, ...] = ("--tls-cert", str(served.cert), "--tls-key", str(served.key))
    args += ("--tls-client-ca", str(served.client_ca)) if served.client_ca is not None else ()
    ca = tls.client.ca if tls.client is not None else None
    return args, ((CA_ENV, str(ca)),) if tls.server is not None and ca is not None else ()


def add_provider_tls_flags(parser: argparse.ArgumentParser) -> None:
    """`--tls-cert`, `--tls-key` and `--tls-client-ca` of a provider server."""
    parser.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve TLS with this certificate chain")
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's private key")
    parser.add_argument(
        "--tls-client-ca",
        type=Path,
        metavar="PEM",
        help="admit only clients with a certificate this CA signed (the router's)",
    )


def provider_tls(parser: argparse.ArgumentParser, args: argparse.Namespace) -> ServerTls | None:
    """The provider's `ServerTls` from its flags; plaintext (None) without `--tls-cert`.

    Exits through `parser.error` (status 2) for a certificate without its key, or a missing file.
    """
    cert, key, client_ca = args.tls_cert, args.tls_key, args.tls_client_ca
    if cert is None and key is None:
        if client_ca is not None:
            parser.error("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if cert is None or key is None:
        parser.error("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key), ("--tls-client-ca", client_ca)):
        if path is not None and not path.is_file():
            parser.error(f"{flag}: no such file: {path}")
    return ServerTls(cert, key, client_ca)
