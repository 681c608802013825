"""Conversions between the provider SDK's domain types and `prizm.v1` messages."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf import duration_pb2, struct_pb2
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb

from provider_servers.sdk.jobs import Progress
from provider_servers.sdk.models import ModelSpec, OptionValue, Param

__all__ = [
    "cost_proto",
    "duration_proto",
    "model_proto",
    "progress_proto",
    "usage_proto",
]

_PARAM_TYPES = {
    "string": catalog_pb.PARAMETER_TYPE_STRING,
    "integer": catalog_pb.PARAMETER_TYPE_INTEGER,
    "number": catalog_pb.PARAMETER_TYPE_NUMBER,
    "boolean": catalog_pb.PARAMETER_TYPE_BOOLEAN,
}


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


def _param_proto(param: Param) -> catalog_pb.Parameter:
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
        catalog_pb.Price(unit=unit, amount_per_unit=amount) for unit, amount in sorted(model.prices.items())
    ]
    return catalog_pb.Model(
        id=model.id,
        display_name=model.display_name,
        description=model.description,
        capabilities=model.capabilities,
        pricing=catalog_pb.Pricing(currency=model.currency if prices else "", prices=prices),
        parameters=[_param_proto(param) for param in model.parameters],
        input_mime_types=model.input_mime_types,
        output_mime_type=model.output_mime_type,
    )


def usage_proto(
    usage: Mapping[catalog_pb.MediaUnit.ValueType, float],
) -> list[catalog_pb.UnitAmount]:
    """UnitAmount messages for `usage`, in unit order."""
    return [catalog_pb.UnitAmount(unit=unit, quantity=qty) for unit, qty in sorted(usage.items())]


def cost_proto(model: ModelSpec, usage: Mapping[catalog_pb.MediaUnit.ValueType, float]) -> media_pb.Cost:
    """What `usage` costs on `model`."""
    return media_pb.Cost(currency=model.currency, amount=model.cost(usage))


def progress_proto(progress: Progress) -> job_pb.Progress:
    """The `Progress` message for a progress event."""
    message = job_pb.Progress(
        state=progress.state,
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
