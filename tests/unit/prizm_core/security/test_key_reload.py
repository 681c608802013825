"""Keys and JWKS files read again when they change, without a restart; a bad version is not used."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from prizm_core.errors import PrizmError
from prizm_core.security.auth import Authenticator
from prizm_core.security.callers import AuthConfig, auth_section, hash_key, new_key
from tests.support.jwts import AUDIENCE, ISSUER, Issuer

KEY, LATER_KEY = new_key(), new_key()


class Clock:
    """Monotonic seconds the test moves on."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _write_keys(path: Path, revoked: bool = False, later: bool = False, jtis: tuple[str, ...] = ()) -> None:
    keys = [{"caller": "alice", "sha256": hash_key(KEY), "revoked": revoked}]
    keys += [{"caller": "alice", "sha256": hash_key(LATER_KEY)}] if later else []
    path.write_text(json.dumps({"api_keys": keys, "revoked_jwt_ids": list(jtis)}), encoding="utf-8")


def _auth(tmp_path: Path, clock: Clock, issuer: Issuer) -> Authenticator:
    _write_keys(tmp_path / "keys.yaml")
    issuer.write_jwks(tmp_path / "jwks.json")
    data = {
        "auth": {
            "api_keys_file": "keys.yaml",
            "jwt": {"jwks_file": "jwks.json", "issuer": ISSUER, "audience": AUDIENCE},
            "callers": {"alice": {}},
        }
    }
    return Authenticator(auth_section(data, "router.yaml", tmp_path), clock)


def _reason(auth: Authenticator, credential: str) -> str:
    try:
        return auth.identify((("authorization", f"Bearer {credential}"),)).name
    except PrizmError as exc:
        return exc.reason


def test_a_key_revoked_in_its_file_is_refused_once_the_file_is_looked_at_again(tmp_path: Path) -> None:
    clock = Clock()
    auth = _auth(tmp_path, clock, Issuer.fresh())
    assert _reason(auth, KEY) == "alice"
    _write_keys(tmp_path / "keys.yaml", revoked=True, later=True)
    clock.now += 0.5  # looked at once a second at most: not yet
    assert _reason(auth, KEY) == "alice"
    clock.now += 0.6
    assert _reason(auth, KEY) == "CREDENTIALS_REVOKED"
    assert _reason(auth, LATER_KEY) == "alice"  # a key added to the file works without a restart too


def test_jwks_rotation_and_jti_revocation_apply_without_a_restart(tmp_path: Path) -> None:
    clock, old, new = Clock(), Issuer.fresh(), Issuer.fresh()
    auth = _auth(tmp_path, clock, old)
    assert _reason(auth, new.token("alice")) == "CREDENTIALS_INVALID"
    new.write_jwks(tmp_path / "jwks.json")
    _write_keys(tmp_path / "keys.yaml", jtis=("stolen-7",))
    clock.now += 1.1
    assert _reason(auth, new.token("alice")) == "alice"
    assert _reason(auth, old.token("alice")) == "CREDENTIALS_INVALID"  # the rotated-out key is gone
    assert _reason(auth, new.token("alice", jti="stolen-7")) == "CREDENTIALS_REVOKED"


def test_a_bad_file_keeps_the_last_good_version_and_is_reported_once_without_its_contents(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    auth = _auth(tmp_path, clock, Issuer.fresh())
    marker = hash_key(LATER_KEY)
    (tmp_path / "keys.yaml").write_text(f"api_keys: [{{caller: alice, sha256: {marker}\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="prizm_core.security.keyfiles"):
        for _ in range(3):
            clock.now += 1.1
            assert _reason(auth, KEY) == "alice"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "keys.yaml changed but cannot be used" in warnings[0] and "not valid YAML" in warnings[0]
    assert marker not in caplog.text
    _write_keys(tmp_path / "keys.yaml", revoked=True)  # fixed: used on the next look
    clock.now += 1.1
    assert _reason(auth, KEY) == "CREDENTIALS_REVOKED"


def test_keys_given_inline_stay_when_the_file_changes(tmp_path: Path) -> None:
    clock, inline = Clock(), new_key()
    _write_keys(tmp_path / "keys.yaml")
    config = AuthConfig.model_validate(
        {
            "api_keys": [{"caller": "alice", "sha256": hash_key(inline)}],
            "api_keys_file": str(tmp_path / "keys.yaml"),
            "callers": {"alice": {}},
        }
    )
    auth = Authenticator(config, clock)
    (tmp_path / "keys.yaml").write_text("api_keys: []\n", encoding="utf-8")
    clock.now += 1.1
    assert (_reason(auth, inline), _reason(auth, KEY)) == ("alice", "CREDENTIALS_INVALID")


@pytest.mark.parametrize("header", ["authorization", "x-api-key", "cookie", "prizm-registration-token"])
def test_forwarding_a_credential_header_is_a_config_error_naming_the_key(header: str) -> None:
    from prizm_core.config import parse_config  # noqa: PLC0415
    from prizm_core.config_values import ConfigError  # noqa: PLC0415

    with pytest.raises(
        ConfigError, match=rf"router\.yaml: forward_metadata\.1: '{header}' carries a caller's credential"
    ):
        parse_config({"forward_metadata": ["x-tenant", header]}, "router.yaml")
    assert parse_config({"forward_metadata": ["x-tenant"]}, "router.yaml").forward_metadata == ("x-tenant",)
