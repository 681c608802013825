"""`prizm auth new-key` and `hash-key`: a key printed once, and the config line holding only its hash."""

from __future__ import annotations

import io
import re

import pytest
import yaml

from prizm_core.cli.main import main
from prizm_core.config_values import section
from prizm_core.security.callers import AuthConfig, hash_key


def test_new_key_prints_the_key_alone_on_stdout_and_its_config_entry_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["auth", "new-key", "alice"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert re.fullmatch(r"prizm_[A-Za-z0-9_-]{43}", key)
    assert key not in err
    assert "give it to alice as PRIZM_API_KEY" in err
    entry = err.split("auth.api_keys:\n", 1)[1]
    config = {"api_keys": yaml.safe_load(entry), "callers": {"alice": {}}}
    (stored,) = section(AuthConfig, {"auth": config}, "auth", "t").api_keys
    assert (stored.caller, stored.sha256) == ("alice", hash_key(key))


def test_a_registration_token_goes_under_registration_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["auth", "new-key", "gpu-fleet", "--registration"]) == 0
    out, err = capsys.readouterr()
    assert "PRIZM_REGISTRATION_TOKEN" in err
    assert f"{{name: gpu-fleet, sha256: {hash_key(out.strip())}}}" in err


def test_hash_key_reads_the_key_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("prizm_some-key\n"))
    assert main(["auth", "hash-key"]) == 0
    assert capsys.readouterr().out == hash_key("prizm_some-key") + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["auth", "hash-key"]) == 2
    assert "pipe the key in on stdin" in capsys.readouterr().err
