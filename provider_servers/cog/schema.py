"""Pure Cog OpenAPI ↔ Prizm mapping: a predictor's `Input` schema as model parameters and input fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provider_servers.sdk import Param
from provider_servers.sdk.models import ParamType

__all__ = ["CogSchema", "parse_schema"]

_TYPES: Mapping[str, ParamType] = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}
# Where a text input goes when no required string says so: the names Cog models use most.
_PROMPT_NAMES = ("prompt", "text")


@dataclass(frozen=True)
class CogSchema:
    """What a predictor's OpenAPI schema says of its input and output.

    Attributes:
        params: The options a job may set: every input but the ones the job's input fills.
        text_field: The input a job's text goes to (the first required string, else `prompt`/`text`);
            empty when the predictor takes no text.
        file_field: The input a job's media file goes to (the first `format: uri` input); empty
            when it takes none.
        iterator: Whether the output is an iterator (a list that grows while it runs).
        text_output: Whether the output is text (a string, or an iterator of strings, not files).
        skipped: Inputs the job cannot set (lists, objects), as `name: why`.
    """

    params: tuple[Param, ...]
    text_field: str
    file_field: str
    iterator: bool
    text_output: bool
    skipped: tuple[str, ...] = ()


def _resolve(node: Mapping[str, Any], components: Mapping[str, Any]) -> dict[str, Any]:
    """The property with what its `allOf: [{$ref}]` points to merged in (Cog's choices are an enum
    component referenced so)."""
    merged = {k: v for k, v in node.items() if k != "allOf"}
    for part in node.get("allOf", []):
        ref = part.get("$ref", "") if isinstance(part, Mapping) else ""
        target = components.get(ref.removeprefix("#/components/schemas/"), {}) if ref else part
        merged = {**target, **merged}
    return merged


def _param(name: str, prop: Mapping[str, Any], required: bool) -> Param | str:
    """The parameter for one input property, or why it cannot be one."""
    kind = _TYPES.get(str(prop.get("type", "")))
    if kind is None:
        return f"{name}: its type {prop.get('type', 'unknown')!r} cannot be an option"
    choices = tuple(str(c) for c in prop.get("enum", ())) if kind == "string" else ()
    default = prop.get("default")
    return Param(
        name=name,
        type=kind,
        description=str(prop.get("description", "")),
        default=default if isinstance(default, str | int | float | bool) else None,
        minimum=float(prop["minimum"]) if isinstance(prop.get("minimum"), int | float) else None,
        maximum=float(prop["maximum"]) if isinstance(prop.get("maximum"), int | float) else None,
        choices=choices,
        required=required and default is None,
        max_length=int(prop.get("maxLength", 0)) if kind == "string" else 0,
    )


def _text_field(properties: Mapping[str, dict[str, Any]], required: list[str]) -> str:
    for name in required:
        prop = properties.get(name, {})
        if prop.get("type") == "string" and "format" not in prop and "enum" not in prop:
            return name
    return next((name for name in _PROMPT_NAMES if name in properties), "")


def parse_schema(document: Mapping[str, Any]) -> CogSchema:
    """The predictor's input and output from the OpenAPI document of its `/openapi.json`.

    Inputs come in `x-order` (the order of `predict`'s arguments). The text and file fields are
    fed from the job's input and are not options; every other scalar input is one, with its
    default, bounds, choices and description.

    Raises:
        ValueError: The document has no `components.schemas.Input` object.
    """
    components = document.get("components", {}).get("schemas", {})
    schema = components.get("Input") if isinstance(components, Mapping) else None
    if not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping):
        raise ValueError("the OpenAPI document has no components.schemas.Input with properties")
    raw = schema["properties"]
    ordered = sorted(raw, key=lambda name: raw[name].get("x-order", len(raw)))
    properties = {name: _resolve(raw[name], components) for name in ordered}
    required = [name for name in ordered if name in schema.get("required", [])]
    text_field = _text_field(properties, required)
    file_field = next((n for n, p in properties.items() if p.get("format") == "uri"), "")
    params: list[Param] = []
    skipped: list[str] = []
    for name, prop in properties.items():
        if name in (text_field, file_field):
            continue
        param = _param(name, prop, name in required)
        if isinstance(param, str):
            skipped.append(param)
        else:
            params.append(param)
    output = components.get("Output", {})
    output = output if isinstance(output, Mapping) else {}
    iterator = output.get("x-cog-array-type") == "iterator"
    item = output.get("items", {}) if output.get("type") == "array" else output
    text_output = isinstance(item, Mapping) and item.get("type") == "string" and "format" not in item
    return CogSchema(tuple(params), text_field, file_field, iterator, text_output, tuple(skipped))
