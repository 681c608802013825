"""What a provider says about its models: capabilities, options with bounds, prices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from prizm_core.enums import Capability, MediaUnit
from prizm_core.options import OptionValue

__all__ = ["ModelSpec", "OptionValue", "Param", "ParamType"]

ParamType = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True)
class Param:
    """One option a model accepts.

    Attributes:
        name: Option name, lower_snake_case.
        type: Value type.
        description: What the option does.
        default: Value used when the caller gives none.
        minimum: Inclusive lower bound for numbers.
        maximum: Inclusive upper bound for numbers.
        choices: The only values a string may take.
        required: Whether the caller must give a value.
        max_length: Longest string accepted; 0 for no limit.
    """

    name: str
    type: ParamType
    description: str = ""
    default: OptionValue | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    max_length: int = 0


@dataclass(frozen=True)
class ModelSpec:
    """One model of a provider.

    Attributes:
        id: Model id, unique within the provider.
        display_name: Human-readable name.
        description: What the model is and does, honestly.
        capabilities: What it can do.
        parameters: The options it accepts; any other option is rejected.
        prices: Price per media unit; empty means free.
        currency: Currency of `prices`.
        input_mime_types: MIME types accepted as input; empty accepts any of the right kind.
        output_mime_type: MIME type of the output.
        max_inputs: Most input assets a job may carry.
        unchecked_options: Whether options it does not declare pass through as given, each of the
            type of its value (a model whose schema is unknown); declared ones are still checked.
    """

    id: str
    display_name: str
    description: str
    capabilities: tuple[Capability, ...]
    parameters: tuple[Param, ...] = ()
    prices: Mapping[MediaUnit, float] = field(default_factory=dict)
    currency: str = "USD"
    input_mime_types: tuple[str, ...] = ()
    output_mime_type: str = ""
    max_inputs: int = 1
    unchecked_options: bool = False

    def cost(self, usage: Mapping[MediaUnit, float]) -> float:
        """What `usage` costs under this model's prices."""
        return sum(quantity * self.prices.get(unit, 0.0) for unit, quantity in usage.items())
