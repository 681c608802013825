"""Callers known by their client certificate (mTLS): `auth.certificates` matched against a call's peer.

gRPC verifies the certificate during the handshake (against the router's `tls.client_ca`) and puts
its names in the call's auth context: `x509_common_name` and `x509_subject_alternative_name`
(DNS names, URIs such as SPIFFE ids, emails, IP addresses, each as text). A name is trusted only
because the CA signed it, so a router without `tls.client_ca` never gets here with one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from prizm_core.security.callers import CertificateRule

__all__ = ["COMMON_NAME_KEY", "SAN_KEY", "caller_of_peer", "peer_names"]

COMMON_NAME_KEY = "x509_common_name"
SAN_KEY = "x509_subject_alternative_name"


def _texts(values: Iterable[bytes]) -> frozenset[str]:
    return frozenset(value.decode("utf-8", "replace") for value in values)


def peer_names(auth_context: Mapping[str, Iterable[bytes]]) -> tuple[frozenset[str], frozenset[str]]:
    """The common names and the subject alternative names of a call's verified client certificate."""
    return _texts(auth_context.get(COMMON_NAME_KEY, ())), _texts(auth_context.get(SAN_KEY, ()))


def caller_of_peer(
    rules: Sequence[CertificateRule], auth_context: Mapping[str, Iterable[bytes]]
) -> str | None:
    """The caller of the first rule the peer's certificate matches; None without one (no credential)."""
    if not rules:
        return None
    common_names, sans = peer_names(auth_context)
    for rule in rules:
        if (rule.common_name is not None and rule.common_name in common_names) or (
            rule.san is not None and rule.san in sans
        ):
            return rule.caller
    return None
