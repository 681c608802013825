"""`prizm certs` and the `tls:` section: what the CA and certificates hold, and what is refused."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from prizm_core.cli.main import main
from prizm_core.config import ConfigError, parse_config
from prizm_core.security.certs import MESH, CertsError, issue, make_ca, make_mesh


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One mesh of certificates for the module (EC keys are quick, but once is enough)."""
    folder = tmp_path_factory.mktemp("certs")
    make_mesh(folder)
    yield folder


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_mesh_is_a_ca_and_four_certificates_it_signed(mesh: Path) -> None:
    ca = _cert(mesh / "ca.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert sorted(p.name for p in mesh.iterdir()) == sorted(
        f"{name}.{ext}" for name in ("ca", *MESH) for ext in ("pem", "key")
    )
    for name, client in MESH.items():
        leaf = _cert(mesh / f"{name}.pem")
        leaf.verify_directly_issued_by(ca)  # raises when another key signed it
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        wanted = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        assert list(usage) == [wanted], name
        key = leaf.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"


def test_server_certificates_name_loopback_and_last_825_days(mesh: Path) -> None:
    leaf = _cert(mesh / "router.pem")
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert datetime.timedelta(days=825) < lifetime < datetime.timedelta(days=826)
    ca = _cert(mesh / "ca.pem")
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > datetime.timedelta(days=3650)


def test_keys_are_readable_by_their_owner_only(mesh: Path) -> None:
    for key in mesh.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_nothing_is_overwritten_without_force(tmp_path: Path) -> None:
    make_ca(tmp_path)
    before = (tmp_path / "ca.pem").read_bytes()
    with pytest.raises(CertsError, match=r"ca\.pem exists; pass --force"):
        make_mesh(tmp_path)
    assert not (tmp_path / "router.pem").exists()  # refused before anything was written
    first = issue(tmp_path, "api", dns=["api.example"], ips=[])
    serial = _cert(first.cert).serial_number
    with pytest.raises(CertsError, match=r"api\.pem exists"):
        issue(tmp_path, "api")
    assert _cert(issue(tmp_path, "api", force=True).cert).serial_number != serial
    assert (tmp_path / "ca.pem").read_bytes() == before


def test_issuing_without_a_ca_or_with_a_bad_address_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CertsError, match="prizm certs init"):
        issue(tmp_path, "router")
    make_ca(tmp_path)
    with pytest.raises(CertsError, match="not an IP address"):
        issue(tmp_path, "router", ips=["localhost"])
    for bad in ("", "ca", "../x", ".hidden"):
        with pytest.raises(CertsError, match="not a certificate name"):
            issue(tmp_path, bad)


def test_the_command_makes_the_mesh_then_refuses_to_redo_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "certs"
    assert main(["certs", "--dir", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert f"prizm up --tls --certs {folder}" in printed and f"--ca {folder / 'ca.pem'}" in printed
    assert main(["certs", "--dir", str(folder)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["certs", "issue", "laptop", "--client", "--dir", str(folder)]) == 0
    laptop = _cert(folder / "laptop.pem")
    assert list(laptop.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert main(["certs", "issue", "box", "--dns", "box.lan", "--ip", "10.0.0.7", "--dir", str(folder)]) == 0
    names = _cert(folder / "box.pem").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["box.lan"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]


def test_the_tls_section_takes_paths_from_the_config_folder(mesh: Path) -> None:
    section = {"cert": "router.pem", "key": "router.key", "client_ca": "ca.pem"}
    section |= {"ca": "ca.pem", "client_cert": "router-client.pem", "client_key": "router-client.key"}
    tls = parse_config({"tls": section}, "r.yaml", mesh).tls
    assert tls.server is not None and tls.client is not None
    assert (tls.server.cert, tls.server.key, tls.server.client_ca) == (
        mesh / "router.pem",
        mesh / "router.key",
        mesh / "ca.pem",
    )
    assert (tls.client.ca, tls.client.cert, tls.client.key) == (
        mesh / "ca.pem",
        mesh / "router-client.pem",
        mesh / "router-client.key",
    )
    assert parse_config({}, "r.yaml", mesh).tls.server is None


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"cert": "router.pem"}, "r.yaml: tls: Value error, cert and key go together"),
        ({"client_cert": "caller.pem"}, "client_cert and client_key go together"),
        ({"client_ca": "ca.pem"}, "client_ca needs cert and key"),
        ({"cert": "gone.pem", "key": "router.key"}, "r.yaml: tls.cert: no such file: "),
        ({"certificate": "router.pem"}, "r.yaml: tls.certificate: Extra inputs are not permitted"),
    ],
)
def test_a_bad_tls_section_is_refused_naming_the_key(
    mesh: Path, section: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config({"tls": section}, "r.yaml", mesh)
    assert problem in str(refused.value)
