"""Signing keys, a JWKS file and JWTs made in the test, as an identity provider would make them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["AUDIENCE", "ISSUER", "Issuer"]

ISSUER = "https://id.example.test"
AUDIENCE = "prizm-router"


@dataclass
class Issuer:
    """An RSA and an EC signing key, published (public halves only) in a JWKS file."""

    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey

    @classmethod
    def fresh(cls) -> Issuer:
        """New keys: RSA 2048 and EC P-256."""
        return cls(rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP256R1()))

    def write_jwks(self, path: Path) -> Path:
        """Writes the public keys as a JWKS file (`kid` "rsa-1" and "ec-1")."""
        keys = []
        for kid, algorithm, key in (
            ("rsa-1", jwt.algorithms.RSAAlgorithm, self.rsa_key),
            ("ec-1", jwt.algorithms.ECAlgorithm, self.ec_key),
        ):
            public = json.loads(algorithm.to_jwk(key.public_key()))
            keys.append({**public, "kid": kid, "use": "sig"})
        path.write_text(json.dumps({"keys": keys}), encoding="utf-8")
        return path

    def token(self, subject: str, *, algorithm: str = "RS256", lifetime_s: float = 300, **claims: Any) -> str:
        """A token for `subject` from this issuer to the router, valid for `lifetime_s` from now."""
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + int(lifetime_s)}
        body.update(claims)
        key = self.rsa_key if algorithm.startswith("RS") else self.ec_key
        kid = "rsa-1" if algorithm.startswith("RS") else "ec-1"
        return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})
