"""Conversions between the provider SDK's domain types and `prizm.v1` messages."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf import duration_pb2, struct_pb2
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core.enums import Capability, MediaKind, MediaUnit, ProviderKind
from provider_servers.sdk.jobs import Progress
from provider_servers.sdk.models import ModelSpec, OptionValue, Param

__all__ = [
    "capability_proto",
    "cost_proto",
    "duration_proto",
    "media_kind_proto",
    "model_proto",
    "param_proto",
    "progress_proto",
    "provider_kind_proto",
    "usage_proto",
]

_PARAM_TYPES = {
    "string": catalog_pb.PARAMETER_TYPE_STRING,
    "integer": catalog_pb.PARAMETER_TYPE_INTEGER,
    "number": catalog_pb.PARAMETER_TYPE_NUMBER,
    "boolean": catalog_pb.PARAMETER_TYPE_BOOLEAN,
}


def capability_proto(capability: Capability) -> media_pb.Capability.ValueType:
    """The wire value of `capability`."""
    return media_pb.Capability.ValueType(int(capability))


def media_kind_proto(kind: MediaKind) -> media_pb.MediaKind.ValueType:
    """The wire value of `kind`."""
    return media_pb.MediaKind.ValueType(int(kind))


def provider_kind_proto(kind: ProviderKind) -> catalog_pb.ProviderKind.ValueType:
    """The wire value of `kind`."""
    return catalog_pb.ProviderKind.ValueType(int(kind))


def _unit_proto(unit: MediaUnit) -> catalog_pb.MediaUnit.ValueType:
    return catalog_pb.MediaUnit.ValueType(int(unit))


def duration_proto(seconds: float) -> duration_pb2.Duration:
    """A Duration of `seconds`."""
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(round(seconds * 1e9))
    return duration


def _scalar(value: OptionValue) -> struct_pb2.Value:
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, str):
        return struct_pb2.Value(string_value=value)
    return struct_pb2.Value(number_value=float(value))


def param_proto(param: Param) -> catalog_pb.Parameter:
    """The `Parameter` message describing `param`: what the catalog publishes and options are checked on."""
    message = catalog_pb.Parameter(
        name=param.name,
        type=_PARAM_TYPES[param.type],
        description=param.description,
        choices=param.choices,
        required=param.required,
        max_length=param.max_length,
    )
    if param.default is not None:
        message.default_value.CopyFrom(_scalar(param.default))
    if param.minimum is not None:
        message.minimum = param.minimum
    if param.maximum is not None:
        message.maximum = param.maximum
    return message


def model_proto(model: ModelSpec) -> catalog_pb.Model:
    """The `Model` message describing `model`."""
    prices = [
        catalog_pb.Price(unit=_unit_proto(unit), amount_per_unit=amount)
        for unit, amount in sorted(model.prices.items())
    ]
    return catalog_pb.Model(
        id=model.id,
        display_name=model.display_name,
        description=model.description,
        capabilities=[capability_proto(capability) for capability in model.capabilities],
        pricing=catalog_pb.Pricing(currency=model.currency if prices else "", prices=prices),
        parameters=[param_proto(param) for param in model.parameters],
        input_mime_types=model.input_mime_types,
        output_mime_type=model.output_mime_type,
    )


def usage_proto(usage: Mapping[MediaUnit, float]) -> list[catalog_pb.UnitAmount]:
    """UnitAmount messages for `usage`, in unit order."""
    return [
        catalog_pb.UnitAmount(unit=_unit_proto(unit), quantity=qty) for unit, qty in sorted(usage.items())
    ]


def cost_proto(model: ModelSpec, usage: Mapping[MediaUnit, float]) -> media_pb.Cost:
    """What `usage` costs on `model`."""
    return media_pb.Cost(currency=model.currency, amount=model.cost(usage))


def progress_proto(progress: Progress) -> job_pb.Progress:
    """The `Progress` message for a progress event."""
    message = job_pb.Progress(
        state=job_pb.JobState.ValueType(int(progress.state)),
        queue_position=progress.queue_position,
        stage=progress.stage,
        message=progress.message,
        logs=progress.logs,
    )
    if progress.fraction is not None:
        message.fraction = min(max(progress.fraction, 0.0), 1.0)
    if progress.eta_s is not None:
        message.eta.CopyFrom(duration_proto(progress.eta_s))
    return message
