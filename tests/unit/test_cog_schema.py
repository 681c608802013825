"""The Cog adapter's pure parts: a predictor's OpenAPI schema as parameters and input fields, and the
relay of a prediction's webhooks (which may arrive out of order) as progress and output items."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provider_servers.cog.devserver import PREDICTORS
from provider_servers.cog.predictions import ProgressRelay
from provider_servers.cog.schema import parse_schema
from provider_servers.replicate.mapping import parse_prediction
from provider_servers.sdk import Param, Progress


def _committed(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PREDICTORS / name / ".cog" / "openapi_schema.json").read_text())
    return document


def _document(properties: dict[str, Any], required: list[str], output: dict[str, Any]) -> dict[str, Any]:
    schemas = {"Input": {"properties": properties, "required": required}, "Output": output}
    return {"components": {"schemas": schemas}}


def test_the_tone_schema_as_cog_wrote_it() -> None:
    schema = parse_schema(_committed("tone"))
    assert schema.text_field == "text" and schema.file_field == ""
    assert not schema.iterator and not schema.text_output
    assert schema.params == (
        Param("steps", "integer", "Steps to render it in", 4, 1.0, 50.0),
        Param("frequency", "number", "Pitch in hertz", 440.0, 20.0, 4000.0),
        Param("mode", "string", "Wave shape", "sine", choices=("sine", "square")),
        Param("step_s", "number", "Seconds each step takes", 0.05, 0.0, 5.0),
    )


def test_an_iterator_of_files_is_streamed() -> None:
    schema = parse_schema(_committed("frames"))
    assert schema.iterator and not schema.text_output and schema.text_field == "prompt"


@pytest.mark.parametrize(
    ("properties", "required", "text_field", "file_field", "options"),
    [
        # The first required string takes the text, whatever its name.
        ({"seed": {"type": "integer"}, "words": {"type": "string"}}, ["words"], "words", "", ["seed"]),
        # No required string: `prompt` is the usual name.
        ({"prompt": {"type": "string", "default": "x"}}, [], "prompt", "", []),
        # A file input (`format: uri`) takes the job's media; a required choice is no prompt.
        (
            {
                "image": {"type": "string", "format": "uri", "x-order": 0},
                "style": {"type": "string", "enum": ["a", "b"], "x-order": 1},
                "scale": {"type": "number", "x-order": 2},
            },
            ["image", "style"],
            "",
            "image",
            ["style", "scale"],
        ),
    ],
)
def test_which_input_takes_the_job(
    properties: dict[str, Any], required: list[str], text_field: str, file_field: str, options: list[str]
) -> None:
    schema = parse_schema(_document(properties, required, {"type": "string"}))
    assert (schema.text_field, schema.file_field) == (text_field, file_field)
    assert [p.name for p in schema.params] == options


def test_inputs_no_option_can_hold_are_named_not_dropped_silently() -> None:
    properties = {"prompt": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}
    schema = parse_schema(_document(properties, ["prompt"], {"type": "string"}))
    assert schema.params == () and schema.text_output
    assert schema.skipped == ("tags: its type 'array' cannot be an option",)


def test_a_document_without_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"components\.schemas\.Input"):
        parse_schema({"error": "OpenAPI schema not available"})


def _webhook(logs: str, output: object = None, status: str = "processing") -> Any:
    return parse_prediction({"id": "p1", "status": status, "logs": logs, "output": output})


def test_the_relay_skips_webhooks_that_arrive_late() -> None:
    relay = ProgressRelay(stream=True)
    first = list(relay.events(_webhook(" 25%|#   | 1/4\nloading\n", ["data:a"])))
    later = list(relay.events(_webhook(" 25%|#   | 1/4\nloading\n 75%|### | 3/4\n", ["data:a", "data:b"])))
    stale = list(relay.events(_webhook(" 25%|#   | 1/4\nloading\n", ["data:a"])))
    assert first == [
        Progress(fraction=0.25, stage="processing", message="loading", logs=("loading",)),
        "data:a",
    ]
    assert later == [Progress(fraction=0.75, stage="processing", message="", logs=()), "data:b"]
    assert stale == []


def test_a_failed_prediction_relays_no_output() -> None:
    relay = ProgressRelay(stream=True)
    assert list(relay.events(_webhook("", ["data:a"], status="failed"))) == []
