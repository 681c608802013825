"""`--json` output: the mesh and job results as JSON with the CLI's own names for enum values.

Enum values read as the CLI writes them (`text-to-audio`, `serving`, `audio`, `output-audio-second`),
not as proto names (`CAPABILITY_TEXT_TO_AUDIO`); keys follow the proto3 JSON mapping (camelCase);
zero values are kept, so every key is always there.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core.capabilities import capability_info
from prizm_core.client import JobResult, OutputAsset
from prizm_core.client.conversion import KIND_NAMES
from prizm_core.client.events import Provenance

__all__ = ["enum_label", "message_json", "print_json", "result_json"]

_KIND_LABELS: dict[int, str] = {value: name for name, value in KIND_NAMES.items()}
_CAPABILITY = media_pb.Capability.DESCRIPTOR
_MEDIA_KIND = media_pb.MediaKind.DESCRIPTOR
_MEDIA_UNIT = catalog_pb.MediaUnit.DESCRIPTOR


def enum_label(enum: EnumDescriptor, number: int) -> str:
    """The CLI's name of an enum value: `CAPABILITY_TEXT_TO_AUDIO` is `text-to-audio`.

    Capabilities and media kinds read as the CLI takes them (`prizm run text-to-audio`, `prizm
    convert --to 3d`); a value this build does not know is its number, as text.
    """
    if enum.full_name == _CAPABILITY.full_name and number:
        try:
            return capability_info(number).name
        except KeyError:
            return str(number)
    if enum.full_name == _MEDIA_KIND.full_name and number in _KIND_LABELS:
        return _KIND_LABELS[number]
    value = enum.values_by_number.get(number)
    if value is None:
        return str(number)
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"
    return value.name.removeprefix(prefix).lower().replace("_", "-")


def _plain(field: FieldDescriptor) -> bool:
    """Whether a message field is rendered by protobuf itself (well-known types: Struct, Duration)."""
    return field.message_type is None or field.message_type.full_name.startswith("google.protobuf.")


def _relabel_value(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        return enum_label(field.enum_type, value)
    if field.message_type is None or _plain(field):
        return value
    return _relabel(field.message_type, value)


def _relabel(descriptor: Descriptor, data: dict[str, Any]) -> dict[str, Any]:
    for field in descriptor.fields:
        if field.json_name not in data:
            continue
        value = data[field.json_name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entry = field.message_type.fields_by_name["value"]
            data[field.json_name] = {key: _relabel_value(entry, item) for key, item in value.items()}
        elif field.is_repeated:
            data[field.json_name] = [_relabel_value(field, item) for item in value]
        else:
            data[field.json_name] = _relabel_value(field, value)
    return data


def message_json(message: Message) -> dict[str, Any]:
    """A protobuf message as JSON data: every field (zero values too), enum values by CLI name."""
    data = json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True, use_integers_for_enums=True
    )
    # The stubs allow upb's own Descriptor class too; it has the same fields.
    return _relabel(cast("Descriptor", message.DESCRIPTOR), data)


def _provenance_json(provenance: Provenance) -> dict[str, Any]:
    return {
        "providerId": provenance.provider_id,
        "modelId": provenance.model_id,
        "options": provenance.options,
        "inputSha256": list(provenance.input_sha256),
        "cost": {"amount": provenance.cost.amount, "currency": provenance.cost.currency},
        "elapsedS": provenance.elapsed_s,
        "jobId": provenance.job_id,
    }


def _output_json(output: OutputAsset) -> dict[str, Any]:
    data: dict[str, Any] = {
        "index": output.index,
        "kind": enum_label(_MEDIA_KIND, output.kind),
        "mimeType": output.mime_type,
        "sizeBytes": output.size_bytes,
        "sha256": output.sha256,
        "path": str(output.path) if output.path is not None else None,
        "metadata": output.metadata,
        "provenance": _provenance_json(output.provenance),
    }
    if output.path is None and output.mime_type.startswith("text/") and output.data is not None:
        data["text"] = output.text()
    return data


def result_json(result: JobResult) -> dict[str, Any]:
    """A finished job as JSON data: outputs with path, sha256 and provenance, usage and cost."""
    completion = result.completion
    return {
        "jobId": result.job_id,
        "outputs": [_output_json(output) for output in result.outputs],
        "usage": [
            {"unit": enum_label(_MEDIA_UNIT, amount.unit), "quantity": amount.quantity}
            for amount in completion.usage
        ],
        "cost": {"amount": completion.cost.amount, "currency": completion.cost.currency},
        "elapsedS": completion.elapsed_s,
        "progressEvents": result.progress_events,
    }


def print_json(data: Any) -> None:
    """Prints `data` as one indented JSON document on stdout."""
    print(json.dumps(data, indent=2, ensure_ascii=False))
