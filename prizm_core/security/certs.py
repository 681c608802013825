"""A local certificate authority for a laptop mesh: the CA, and server and client certificates it signs."""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_DAYS",
    "LEAF_DAYS",
    "MESH",
    "CertsError",
    "Issued",
    "default_folder",
    "issue",
    "make_ca",
    "make_mesh",
    "mesh_ready",
]

# A laptop CA outlives the certificates it signs; leaves stay under the 825 days clients accept.
CA_DAYS = 3650
LEAF_DAYS = 825
# Backdated a little, so a machine whose clock is slightly behind accepts a certificate made now.
_BACKDATE = datetime.timedelta(minutes=5)
_LOOPBACK_DNS = ("localhost",)
_LOOPBACK_IPS = ("127.0.0.1", "::1")
# The mesh `prizm certs` makes: name -> whether it is a client certificate.
MESH: Mapping[str, bool] = {
    "router": False,  # the router serves callers with it
    "router-client": True,  # the router's identity towards providers that require client certificates
    "provider": False,  # the providers serve the router with it
    "caller": True,  # a caller's identity, for a router that requires client certificates
}


class CertsError(Exception):
    """A certificate cannot be made: a file is there already, or the CA is missing or unreadable."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as files."""

    cert: Path
    key: Path


def default_folder(environ: Mapping[str, str]) -> Path:
    """Where `prizm certs` writes: `$PRIZM_HOME/certs`, else Prizm's data directory's `certs`."""
    # Imported here: prizm_core.installed pulls in packaging and the store, not needed to make certs.
    from prizm_core.installed import prizm_home  # noqa: PLC0415

    return prizm_home(environ) / "certs"


def _paths(folder: Path, name: str) -> Issued:
    return Issued(folder / f"{name}.pem", folder / f"{name}.key")


def _refuse_existing(issued: Issued, force: bool) -> None:
    there = [path for path in (issued.cert, issued.key) if path.exists()]
    if there and not force:
        raise CertsError(f"{there[0]} exists; pass --force to replace it")


def _write(issued: Issued, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    issued.cert.parent.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written beside, then renamed: a server reloading its files never reads half a key, and the
    # key is 0600 from its first byte on (no window in which others may read it).
    for path, data, mode in (
        (issued.key, key_pem, 0o600),
        (issued.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644),
    ):
        partial = path.with_name(f".{path.name}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        os.chmod(partial, mode)  # the umask may have taken bits off; the mode is meant exactly
        partial.replace(path)


def _builder(
    subject: str, issuer: x509.Name, public: ec.EllipticCurvePublicKey, days: int
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def make_ca(folder: Path, name: str = "Prizm local CA", force: bool = False) -> Issued:
    """Makes a self-signed CA (EC P-256) as `ca.pem` and `ca.key` (0600) in `folder`.

    Raises:
        CertsError: They exist and `force` is not set.
    """
    issued = _paths(folder, "ca")
    _refuse_existing(issued, force)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
    )  # fmt: skip
    cert = (
        _builder(name, subject, key.public_key(), CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    _write(issued, cert, key)
    return issued


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca = _paths(folder, "ca")
    try:
        cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
        key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    except FileNotFoundError:
        raise CertsError(f"no CA in {folder}: make one first with `prizm certs init`") from None
    except (OSError, ValueError, TypeError) as exc:
        raise CertsError(f"cannot read the CA in {folder}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertsError(f"{ca.key} is not an EC key")
    return cert, key


def _names(dns: Sequence[str], ips: Sequence[str]) -> x509.SubjectAlternativeName:
    try:
        addresses = [ipaddress.ip_address(ip) for ip in ips]
    except ValueError as exc:
        raise CertsError(f"not an IP address: {exc}") from None
    entries: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    entries += [x509.IPAddress(address) for address in addresses]
    return x509.SubjectAlternativeName(entries)


def issue(
    folder: Path,
    name: str,
    *,
    dns: Sequence[str] = _LOOPBACK_DNS,
    ips: Sequence[str] = _LOOPBACK_IPS,
    client: bool = False,
    force: bool = False,
) -> Issued:
    """Issues `NAME.pem` and `NAME.key` (EC P-256, 0600), signed by the CA in `folder`.

    Args:
        folder: Holds `ca.pem` and `ca.key`; gets the new files.
        name: The file name and the certificate's common name.
        dns: DNS names a server certificate is valid for.
        ips: IP addresses a server certificate is valid for.
        client: A client certificate (TLS client auth) rather than a server's.
        force: Replace files already there.

    Raises:
        CertsError: No CA in `folder`, a bad name or address, or files there and no `force`.
    """
    if not name or "/" in name or name.startswith(".") or name == "ca":
        raise CertsError(f"not a certificate name: {name!r} (a plain file name other than 'ca')")
    issued = _paths(folder, name)
    _refuse_existing(issued, force)
    ca_cert, ca_key = _load_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    purpose = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        _builder(name, ca_cert.subject, key.public_key(), LEAF_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if dns or ips:
        builder = builder.add_extension(_names(dns, ips), critical=False)
    _write(issued, builder.sign(ca_key, hashes.SHA256()), key)
    return issued


def make_mesh(folder: Path, force: bool = False) -> dict[str, Issued]:
    """Makes the CA and every certificate of `MESH` in `folder`, for loopback (localhost, 127.0.0.1).

    Returns:
        The files by name: `ca` and each of `MESH`.

    Raises:
        CertsError: Any of the files exists and `force` is not set (then none is written).
    """
    for name in ("ca", *MESH):
        _refuse_existing(_paths(folder, name), force)
    made = {"ca": make_ca(folder, force=force)}
    for name, client in MESH.items():
        made[name] = issue(folder, name, client=client, force=force)
    return made


def mesh_ready(folder: Path) -> bool:
    """Whether `folder` holds the CA and every certificate of `MESH`."""
    return all(
        _paths(folder, name).cert.is_file() and _paths(folder, name).key.is_file() for name in ("ca", *MESH)
    )
