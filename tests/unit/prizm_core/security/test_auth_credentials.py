"""API keys, registration tokens and JWTs: which are accepted, and how the others are refused."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import grpc
import pytest

from prizm_core.config_values import ConfigError
from prizm_core.errors import PrizmError
from prizm_core.security.auth import Authenticator, check_exposure
from prizm_core.security.callers import AuthConfig, hash_key, new_key
from tests.support.jwts import AUDIENCE, ISSUER, Issuer

ALICE_KEY = new_key()
OLD_KEY = new_key()
FLEET_TOKEN = new_key()


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer.fresh()


@pytest.fixture(name="auth")
def _auth(tmp_path: Path, issuer: Issuer) -> Authenticator:
    config = AuthConfig.model_validate(
        {
            "api_keys": [
                {"caller": "alice", "sha256": hash_key(ALICE_KEY)},
                {"caller": "alice", "sha256": hash_key(OLD_KEY), "revoked": True},
            ],
            "registration_tokens": [{"name": "fleet", "sha256": hash_key(FLEET_TOKEN)}],
            "jwt": {
                "jwks_file": str(issuer.write_jwks(tmp_path / "jwks.json")),
                "issuer": ISSUER,
                "audience": AUDIENCE,
                "revoked_ids": ["stolen-1"],
            },
            "callers": {"alice": {}, "bob": {"operator": True}},
        }
    )
    return Authenticator(config)


def _refused(auth: Authenticator, credential: str | None) -> PrizmError:
    metadata = () if credential is None else (("authorization", credential),)
    with pytest.raises(PrizmError) as refused:
        auth.identify(metadata)
    error = refused.value
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    # The refusal never repeats the credential, whole or in part.
    secret = (credential or "").partition(" ")[2]
    if len(secret) > 12:
        assert secret[-12:] not in error.message
    return error


def test_a_fresh_key_is_random_prefixed_and_stored_as_its_sha256() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    key = keys.pop()
    assert key.startswith("prizm_") and len(key) == len("prizm_") + 43  # 32 bytes, URL-safe base64
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()


def test_a_configured_key_names_its_caller(auth: Authenticator) -> None:
    identity = auth.identify((("authorization", f"Bearer {ALICE_KEY}"),))
    assert (identity.name, identity.operator, identity.registrar) == ("alice", False, False)
    # The scheme is case-insensitive (RFC 7235).
    assert auth.identify((("authorization", f"bearer {ALICE_KEY}"),)).name == "alice"


def test_missing_malformed_unknown_and_revoked_keys_are_refused_each_with_its_reason(
    auth: Authenticator,
) -> None:
    assert _refused(auth, None).reason == "CREDENTIALS_MISSING"
    assert _refused(auth, f"Basic {ALICE_KEY}").reason == "CREDENTIALS_INVALID"
    assert _refused(auth, "Bearer ").reason == "CREDENTIALS_INVALID"
    assert _refused(auth, f"Bearer {new_key()}").reason == "CREDENTIALS_INVALID"
    revoked = _refused(auth, f"Bearer {OLD_KEY}")
    assert (revoked.reason, revoked.message) == ("CREDENTIALS_REVOKED", "this API key was revoked")


def test_a_registration_token_is_a_registrar_not_a_caller(auth: Authenticator) -> None:
    identity = auth.identify((("authorization", f"Bearer {FLEET_TOKEN}"),))
    assert (identity.name, identity.registrar, identity.operator) == ("fleet", True, False)


def test_an_operator_caller_is_an_operator(auth: Authenticator, issuer: Issuer) -> None:
    assert auth.identify((("authorization", f"Bearer {issuer.token('bob')}"),)).operator


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_a_valid_jwt_names_its_subject(auth: Authenticator, issuer: Issuer, algorithm: str) -> None:
    token = issuer.token("alice", algorithm=algorithm)
    assert auth.identify((("authorization", f"Bearer {token}"),)).name == "alice"


def test_jwts_expired_early_for_another_audience_or_issuer_forged_or_revoked_are_refused(
    auth: Authenticator, issuer: Issuer
) -> None:
    def refusal(token: str) -> tuple[str, str]:
        error = _refused(auth, f"Bearer {token}")
        return str(error.reason), error.message

    assert refusal(issuer.token("alice", lifetime_s=-10)) == ("CREDENTIALS_EXPIRED", "the token has expired")
    assert refusal(issuer.token("alice", nbf=int(time.time()) + 600))[1] == "the token is not valid yet (nbf)"
    reason, message = refusal(issuer.token("alice", aud="another-service"))
    assert (reason, message) == ("CREDENTIALS_INVALID", "the token is not meant for this router (aud)")
    assert (
        refusal(issuer.token("alice", iss="https://evil.test"))[1]
        == "the token's issuer is not trusted (iss)"
    )
    forged = Issuer.fresh().token("alice")  # same kid, another key
    assert refusal(forged) == ("CREDENTIALS_INVALID", "the token is not valid for this router")
    assert refusal(issuer.token("alice", jti="stolen-1")) == ("CREDENTIALS_REVOKED", "this token was revoked")
    assert refusal(issuer.token("mallory"))[1] == "the token's sub is not a caller of this router"
    unsigned = issuer.token("alice").rsplit(".", 1)[0] + "."
    assert refusal(unsigned)[0] == "CREDENTIALS_INVALID"


def test_a_jwt_without_an_expiry_is_refused(auth: Authenticator, issuer: Issuer) -> None:
    import jwt  # noqa: PLC0415

    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice"}
    token = jwt.encode(body, issuer.rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    assert _refused(auth, f"Bearer {token}").reason == "CREDENTIALS_INVALID"


def test_an_unreadable_jwks_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text('{"keys": []}')
    config = AuthConfig.model_validate(
        {"jwt": {"jwks_file": str(tmp_path / "jwks.json"), "issuer": ISSUER, "audience": AUDIENCE}}
    )
    with pytest.raises(ConfigError, match=r"auth\.jwt\.jwks_file: cannot use .*jwks\.json"):
        Authenticator(config)


def test_without_auth_only_loopback_is_served_unless_insecure() -> None:
    off = AuthConfig()
    assert "loopback" in check_exposure("127.0.0.1", off)
    assert "loopback" in check_exposure("::1", off)
    assert "loopback" in check_exposure("localhost", off)
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 with auth off"):
        check_exposure("0.0.0.0", off)  # noqa: S104 - what is refused
    assert "--insecure" in check_exposure("0.0.0.0", AuthConfig(insecure=True))  # noqa: S104
    on = AuthConfig.model_validate({"api_keys": [{"caller": "a", "sha256": "0" * 64}], "callers": {"a": {}}})
    assert "auth is on" in check_exposure("0.0.0.0", on)  # noqa: S104
