"""The Replicate provider's settings: token, base URL, poll interval and models from config."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from prizm_core.enums import Capability
from prizm_core.errors import PrizmError, Reason
from provider_servers.replicate.catalog import ModelsConfigError
from provider_servers.replicate.models import DECLARED
from provider_servers.replicate.provider import ReplicateProvider

TOKEN = "r8_CANARY-0123456789abcdef"
MODEL = {
    "id": "acme-tts",
    "ref": "acme/tts:abc123",
    "capability": "text-to-audio",
    "output_mime_type": "audio/wav",
}


def test_settings_from_the_environment(tmp_path: Path) -> None:
    models = tmp_path / "models.yaml"
    models.write_text(json.dumps([MODEL]), encoding="utf-8")
    provider = ReplicateProvider.from_environment(
        {
            "REPLICATE_API_TOKEN": TOKEN,
            "REPLICATE_BASE_URL": "http://127.0.0.1:9/",
            "REPLICATE_POLL_INTERVAL": "2",
            "PRIZM_REPLICATE_MODELS": str(models),
        }
    )
    assert (provider.api_key, provider.base_url, provider.poll_s) == (TOKEN, "http://127.0.0.1:9/", 2.0)
    assert [m.id for m in provider.models()][-1] == "acme-tts"
    assert ReplicateProvider.from_environment({}).base_url == "https://api.replicate.com"


@pytest.mark.parametrize("interval", ["0", "61", "-1", "soon"])
def test_a_poll_interval_out_of_bounds_is_refused(interval: str) -> None:
    with pytest.raises(ValueError, match="REPLICATE_POLL_INTERVAL"):
        ReplicateProvider.from_environment({"REPLICATE_POLL_INTERVAL": interval})


def test_a_bad_models_file_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ModelsConfigError, match=r"missing\.yaml"):
        ReplicateProvider.from_environment({"PRIZM_REPLICATE_MODELS": str(tmp_path / "missing.yaml")})


def test_configure_applies_models_and_the_token_without_echoing_it() -> None:
    provider = ReplicateProvider("")
    applied = provider.configure({"api_key": TOKEN, "models": json.dumps([MODEL])})
    assert applied == ["api_key", "models"]
    assert provider.api_key == TOKEN
    assert "acme-tts" in [m.id for m in provider.models()]
    assert "black-forest-labs/flux-schnell" in [m.id for m in provider.models()]  # built-ins stay


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"models": "[{id: x/y, capability: text-to-nothing}]"}, "settings.models"),
        ({"models": "[unclosed"}, "settings.models"),
        ({"colour": "red"}, "settings.colour"),
    ],
)
def test_configure_refuses_what_it_cannot_apply(settings: dict[str, str], field: str) -> None:
    provider = ReplicateProvider(TOKEN)
    with pytest.raises(PrizmError) as failure:
        provider.configure(settings)
    assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [name for name, _ in failure.value.field_violations]
    assert failure.value.reason in (Reason.INVALID_INPUT, Reason.UNKNOWN_SETTING)
    assert len(provider.models()) == len(DECLARED)  # the built-ins, untouched


@pytest.mark.parametrize(
    ("model_id", "runs"),
    [
        ("acme/whatever", True),
        ("acme/whatever:" + "0f" * 32, True),
        ("deployments/acme/flux", True),
        ("plain", False),
        ("a/b/c", False),
        ("deployments/acme", False),
        ("acme/what ever", False),
    ],
)
def test_any_replicate_reference_runs_unlisted(model_id: str, runs: bool) -> None:
    provider = ReplicateProvider(TOKEN)
    assert provider.runs_unlisted_models
    spec = provider.model_named(model_id, Capability.TEXT_TO_IMAGE, {"steps": 4, "fast": True, "bad": [1]})
    assert (spec is not None) == runs
    if spec is not None:
        assert spec.id == model_id
        assert [(p.name, p.type) for p in spec.parameters] == [("steps", "integer"), ("fast", "boolean")]
    assert model_id not in [m.id for m in provider.models()]
