"""The pure mapping: requests filled in from jobs, statuses, outputs, usage and estimates read."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import grpc
import pytest

from prizm_core.errors import Reason
from provider_servers.http_api.config import ErrorsConfig, JobFlowConfig, RequestTemplate, load_config
from provider_servers.http_api.mapping import (
    Values,
    estimate,
    field_values,
    job_values,
    read_status,
    render_request,
    reported_usage,
)
from provider_servers.http_api.provider import ConfiguredHttp, model_spec
from provider_servers.remote import Vendor, vendor_error
from provider_servers.sdk import Capability, InputAsset, Job, MediaKind, MediaUnit, OptionValue

PACKAGE = Path(__file__).parents[4] / "provider_servers" / "http_api"
FAKE = load_config(PACKAGE / "fake_config.yaml")
STABILITY = load_config(PACKAGE / "examples" / "stability.yaml")


def _job(model_index: int, data: bytes, kind: MediaKind, options: dict[str, OptionValue]) -> Job:
    model = FAKE.models[model_index]
    spec = model_spec(model)
    mime = "text/plain" if kind == MediaKind.TEXT else "audio/wav"
    return Job("j1", spec.capabilities[0], spec, (InputAsset.inline(kind, mime, data),), options)


def test_a_lone_placeholder_keeps_its_type_and_an_absent_option_is_left_out() -> None:
    job = _job(1, b"a cat", MediaKind.TEXT, {"width": 64, "height": 32, "num_outputs": 2})
    request = render_request(FAKE.models[1].request, job_values(job))
    assert request.json == {"prompt": "a cat", "width": 64, "height": 32, "n": 2}
    assert (request.method, request.path, request.data, request.files) == ("POST", "/v1/images", None, None)


def test_placeholders_inside_text_and_quoted_in_paths() -> None:
    template = RequestTemplate.model_validate(
        {
            "method": "GET",
            "path": "/v1/jobs/${id}",
            "headers": {"X-Note": "seed=${option.seed}; fast=${option.fast}"},
            "query": {"who": "${option.who}"},
            "json": {"list": ["${option.seed}", "${option.missing}"], "nested": {"dollar": "$$5"}},
        }
    )
    values = Values({"seed": 7, "fast": True}, job_id="a/b c")
    request = render_request(template, values)
    assert request.path == "/v1/jobs/a%2Fb%20c"
    assert request.headers == {"X-Note": "seed=7; fast=true"}
    assert request.params == {}  # an absent lone placeholder leaves the parameter out
    assert request.json == {"list": [7], "nested": {"dollar": "$5"}}


def test_multipart_fields_and_the_input_file() -> None:
    job = _job(2, b"RIFF-audio", MediaKind.AUDIO, {"language": "de"})
    request = render_request(FAKE.models[2].request, job_values(job))
    assert request.data == {"language": "de"}
    assert request.files is not None
    name, content, mime = request.files["file"]
    assert (name.startswith("input"), content, mime) == (True, b"RIFF-audio", "audio/wav")


def test_the_input_as_base64_and_as_a_data_url() -> None:
    asset = InputAsset.inline(MediaKind.IMAGE, "image/png", b"\x89PNG-bytes")
    template = RequestTemplate.model_validate(
        {
            "path": "/edit",
            "json": {"b64": "${input.base64}", "url": "${input.data_url}", "t": "${input.mime_type}"},
        }
    )
    request = render_request(template, Values({}, asset=asset))
    encoded = base64.b64encode(b"\x89PNG-bytes").decode()
    assert request.json == {"b64": encoded, "url": f"data:image/png;base64,{encoded}", "t": "image/png"}


def test_the_stability_example_sends_stabilitys_documented_form() -> None:
    spec = model_spec(STABILITY.models[0])
    asset = InputAsset.inline(MediaKind.TEXT, "text/plain", b"a lighthouse at dusk")
    options: dict[str, OptionValue] = {"format": "webp", "aspect_ratio": "16:9", "seed": 42}
    job = Job("j", Capability.TEXT_TO_IMAGE, spec, (asset,), options)
    request = render_request(STABILITY.models[0].request, job_values(job))
    assert request.path == "/v2beta/stable-image/generate/core"
    assert request.headers == {"Accept": "image/*"}
    assert request.data == {
        "prompt": "a lighthouse at dusk",
        "aspect_ratio": "16:9",
        "seed": "42",
        "output_format": "webp",
    }


FLOW = FAKE.models[3].job
assert FLOW is not None


@pytest.mark.parametrize(
    ("body", "state", "fraction", "position", "error"),
    [
        ({"status": "queued", "queue_position": 3}, "queued", None, 3, ""),
        ({"status": "running", "percent": 40}, "running", 0.4, 0, ""),
        ({"status": "running", "percent": 140}, "running", 1.0, 0, ""),
        ({"status": "running", "percent": "half"}, "running", None, 0, ""),
        ({"status": "warming-up"}, "running", None, 0, ""),
        ({"status": "succeeded", "result": {"url": "u"}}, "done", None, 0, ""),
        ({"status": "failed", "error": "out of GPUs"}, "failed", None, 0, "out of GPUs"),
        ({"status": "canceled"}, "failed", None, 0, ""),
    ],
)
def test_statuses_read_under_the_flow(
    body: dict[str, Any], state: str, fraction: float | None, position: int, error: str
) -> None:
    assert FLOW is not None
    polled = read_status(FLOW, body)
    assert (polled.state, polled.fraction, polled.queue_position, polled.error) == (
        state,
        fraction,
        position,
        error,
    )
    assert polled.status == body["status"]


def test_fraction_scale() -> None:
    flow = JobFlowConfig.model_validate(
        {
            "id": "id",
            "poll": {"path": "/j/${id}"},
            "status": "s",
            "done": ["ok"],
            "failed": ["no"],
            "progress": "p",
        }
    )
    assert read_status(flow, {"s": "busy", "p": 0.3}).fraction == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("body", "path", "found"),
    [
        ({"data": [{"url": "a"}, {"url": "b"}]}, "data[*].url", ["a", "b"]),
        ({"data": [{"url": "a"}]}, "data[0].url", ["a"]),
        ({"output": "x"}, "output", ["x"]),
        ({"output": None}, "output", []),
        ({"output": ["", 3, "y"]}, "output", ["y"]),
        ({}, "missing.deeper", []),
    ],
)
def test_field_values(body: dict[str, Any], path: str, found: list[str]) -> None:
    assert field_values(body, path) == found


def test_reported_usage_takes_numbers_only() -> None:
    mapping = FAKE.models[3].response
    assert reported_usage(mapping, {"result": {"seconds": 2.5}}) == {MediaUnit.OUTPUT_AUDIO_SECOND: 2.5}
    assert reported_usage(mapping, {"result": {"seconds": "long"}}) == {}
    assert reported_usage(mapping, {"result": {"seconds": -1}}) == {}


@pytest.mark.parametrize(
    ("units", "options", "expected"),
    [
        ([], {}, {MediaUnit.REQUEST: 1.0}),
        (["input_character"], {}, {MediaUnit.INPUT_CHARACTER: 11.0}),
        (["output_image"], {"num_outputs": 3}, {MediaUnit.OUTPUT_IMAGE: 3.0}),
        (
            ["output_megapixel"],
            {"width": 1000, "height": 500, "num_outputs": 2},
            {MediaUnit.OUTPUT_MEGAPIXEL: 1.0},
        ),
        (
            ["output_audio_second", "request"],
            {"duration_s": 4.5},
            {
                MediaUnit.OUTPUT_AUDIO_SECOND: 4.5,
                MediaUnit.REQUEST: 1.0,
            },
        ),
    ],
)
def test_estimates(
    units: list[str], options: dict[str, OptionValue], expected: dict[MediaUnit, float]
) -> None:
    job = _job(0, b"hello world", MediaKind.TEXT, options)
    assert estimate(units, job) == pytest.approx(expected)


def test_error_bodies_read_where_the_config_says() -> None:
    http = ConfiguredHttp(
        STABILITY.errors, Vendor("stability", "K", "", "https://x"), "sk-key-123456789", "https://x"
    )
    body = b'{"id": "e1", "name": "content_moderation", "errors": ["Your request was flagged"]}'
    words, filtered = http.error_text(body)
    assert (words, filtered) == ("Your request was flagged", True)
    error = vendor_error(403, words, content_filtered=filtered, vendor="stability")
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, Reason.CONTENT_FILTERED)
    words, filtered = http.error_text(
        b'{"name": "bad_request", "errors": ["prompt: required", "seed: too big"]}'
    )
    assert (words, filtered) == ("prompt: required; seed: too big", False)
    plain = ConfiguredHttp(ErrorsConfig(), Vendor("x", "K", "", "https://x"), "", "https://x")
    assert plain.error_text(b'{"error": {"message": "nope"}}') == ("nope", False)
