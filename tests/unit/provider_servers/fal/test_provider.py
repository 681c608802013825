"""The fal provider without a network: settings, its models from config, unlisted ids, estimates."""

from __future__ import annotations

import json

import grpc
import pytest

from prizm_core.enums import Capability, MediaKind, MediaUnit
from prizm_core.errors import PrizmError
from provider_servers.fal.provider import FalProvider, _app
from provider_servers.sdk import InputAsset, Job

DECLARED = [{"id": "fal-ai/x/y", "capability": "text-to-image", "prices": {"output_image": 0.04}}]


def _provider() -> FalProvider:
    return FalProvider.from_environment({"FAL_KEY": "sk-CANARY-unit", "FAL_BASE_URL": "http://127.0.0.1:9"})


def test_settings_from_the_environment() -> None:
    provider = FalProvider.from_environment(
        {"FAL_KEY": "k", "FAL_REST_URL": "http://r", "FAL_API_URL": "http://a"}
    )
    assert (provider.api_key, provider.base_url) == ("k", "https://queue.fal.run")
    assert (provider.rest_url, provider.api_url) == ("http://r", "http://a")
    assert [m.id for m in provider.models()] == [
        "fal-ai/flux/schnell",
        "fal-ai/kokoro/american-english",
        "fal-ai/whisper",
    ]


def test_configure_declares_models_and_urls_and_echoes_no_value() -> None:
    provider = _provider()
    applied = provider.configure(
        {"models": json.dumps(DECLARED), "rest_url": "http://127.0.0.1:8", "api_key": "n"}
    )
    assert applied == ["api_key", "models", "rest_url"]
    assert "fal-ai/x/y" in [m.id for m in provider.models()]
    assert (provider.rest_url, provider.api_key) == ("http://127.0.0.1:8", "n")


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"models": "- id: nope"}, "settings.models"),
        ({"models": "[unclosed"}, "settings.models"),
        ({"api_url": "ftp://x"}, "settings.api_url"),
        ({"colour": "red"}, "settings.colour"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(settings: dict[str, str], field: str) -> None:
    provider = _provider()
    before = [m.id for m in provider.models()]
    with pytest.raises(PrizmError) as refused:
        provider.configure(settings)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [name for name, _ in refused.value.field_violations] == [field]
    assert [m.id for m in provider.models()] == before


@pytest.mark.parametrize(
    ("model_id", "runs"),
    [
        ("fal-ai/new/thing", True),
        ("someone/app", True),
        ("no-slash", False),
        ("a/../b c", False),
        ("/x/y", False),
    ],
)
def test_any_fal_endpoint_id_runs_unlisted(model_id: str, runs: bool) -> None:
    spec = _provider().model_named(model_id, Capability.TEXT_TO_VIDEO, {"fps": 24, "loop": True, "bad": [1]})
    assert (spec is not None) == runs
    if spec is not None:
        assert [(p.name, p.type) for p in spec.parameters] == [("fps", "integer"), ("loop", "boolean")]


def test_measure_counts_characters_for_speech() -> None:
    provider = _provider()
    kokoro = next(m for m in provider.models() if m.id == "fal-ai/kokoro/american-english")
    text = InputAsset.inline(MediaKind.TEXT, "text/plain", b"twelve chars")
    job = Job("j", Capability.TEXT_TO_AUDIO, kokoro, (text,), {"voice": "af_heart", "speed": 1.0})
    assert provider.measure(job) == {MediaUnit.INPUT_CHARACTER: 12.0}
    assert kokoro.cost(provider.measure(job)) == pytest.approx(12 * 0.00002)


@pytest.mark.parametrize(
    ("endpoint", "app"),
    [
        ("fal-ai/flux/schnell", "fal-ai/flux"),
        ("fal-ai/whisper", "fal-ai/whisper"),
        ("workflows/me/flow/x", "workflows/me/flow"),
    ],
)
def test_requests_live_under_the_app(endpoint: str, app: str) -> None:
    assert _app(endpoint) == app
