"""Models a remote provider's config declares: the vendor-neutral schema, checked by pydantic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from prizm_core.capabilities import all_capabilities, capability_by_name
from prizm_core.enums import Capability, MediaUnit
from prizm_core.errors import invalid_argument
from prizm_core.option_vocabulary import STANDARD_OPTIONS
from provider_servers.sdk import ModelSpec, OptionValue, Param, standard_param

# Re-exported: undeclared models of hosted APIs are one use of it; the SDK owns it.
from provider_servers.sdk.options import inferred_params

__all__ = [
    "CapabilityName",
    "DeclaredModel",
    "ModelsConfigError",
    "ParamConfig",
    "inferred_params",
    "load_declared",
    "parse_declared",
    "parse_setting",
]

_STANDARD = frozenset(option.name for option in STANDARD_OPTIONS)
# A media unit by its name in a config (`output_megapixel`).
_UNITS = {unit.name.lower(): unit for unit in MediaUnit}
_Declared = TypeVar("_Declared", bound="DeclaredModel")
_Model = TypeVar("_Model")


def _capability(name: str) -> str:
    # `capability_by_name` raises KeyError, which pydantic lets through as a crash: a ValueError
    # becomes a validation error naming the field.
    try:
        return capability_by_name(name).name
    except KeyError:
        raise ValueError(f"unknown capability {name!r}; e.g. text-to-image") from None


CapabilityName = Annotated[
    str,
    AfterValidator(_capability),
    WithJsonSchema({"type": "string", "enum": [info.name for info in all_capabilities()]}),
]
"""A capability by its name (`text-to-image`, or `TEXT_TO_IMAGE`), kept as its canonical name."""


class ModelsConfigError(ValueError):
    """A models config that cannot be used, with the field path of each problem."""


class ParamConfig(BaseModel):
    """One option of a declared model; a standard option (docs/options.md) takes its type from there."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["string", "integer", "number", "boolean"] | None = None
    description: str = ""
    default: OptionValue | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    max_length: int = Field(default=0, ge=0)

    def param(self) -> Param:
        """The SDK parameter this declares.

        Raises:
            ValueError: an option of the vendor's own without a type, or bounds the type cannot take.
        """
        if self.name in _STANDARD:
            return standard_param(
                self.name,
                note=self.description,
                default=self.default,
                minimum=self.minimum,
                maximum=self.maximum,
                choices=self.choices,
                max_length=self.max_length,
                required=self.required,
            )
        if self.type is None:
            raise ValueError(f"{self.name} is not a standard option: give its type")
        return Param(
            self.name,
            self.type,
            self.description,
            self.default,
            self.minimum,
            self.maximum,
            self.choices,
            self.required,
            self.max_length,
        )


class DeclaredModel(BaseModel):
    """What every vendor's declared model has: its capability, prices, options and media types.

    A vendor subclasses it with its `id` and its own fields (how options become the vendor's input).
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    capability: CapabilityName
    display_name: str = ""
    description: str = ""
    prices: dict[str, float] = Field(default_factory=dict, description="USD per media unit, by unit name")
    parameters: tuple[ParamConfig, ...] = ()
    output_mime_type: str = ""
    input_mime_types: tuple[str, ...] = ()

    @field_validator("prices")
    @classmethod
    def _known_units(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(_UNITS))
        if unknown:
            raise ValueError(f"unknown media unit(s) {', '.join(unknown)}; known: {', '.join(_UNITS)}")
        if any(price < 0 for price in value.values()):
            raise ValueError("prices must not be negative")
        return value

    def spec(self, default_description: str) -> ModelSpec:
        """The model as Prizm publishes it.

        Args:
            default_description: The description when the config gives none.

        Raises:
            ValueError: a parameter that cannot be declared (see `ParamConfig.param`).
        """
        return ModelSpec(
            id=self.id,
            display_name=self.display_name or self.id,
            description=self.description or default_description,
            capabilities=(Capability(capability_by_name(self.capability).value),),
            parameters=tuple(p.param() for p in self.parameters),
            prices={_UNITS[name]: price for name, price in self.prices.items()},
            input_mime_types=self.input_mime_types,
            output_mime_type=self.output_mime_type,
        )


def parse_declared(
    schema: type[_Declared], build: Callable[[_Declared], _Model], data: object, what: str
) -> list[_Model]:
    """The models a parsed config (a list of model mappings) declares.

    Args:
        schema: The vendor's `DeclaredModel`.
        build: Makes the vendor's model of one valid entry; a ValueError is the entry's problem.
        data: The parsed YAML or JSON.
        what: Names the config in errors, e.g. `fal models config`.

    Raises:
        ModelsConfigError: naming the field path and problem of each invalid entry.
    """
    try:
        entries = TypeAdapter(list[schema]).validate_python(data)  # type: ignore[valid-type]
        return [build(entry) for entry in entries]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ModelsConfigError(f"{what}: {problems}") from None
    except ValueError as exc:
        raise ModelsConfigError(f"{what}: {exc}") from None


def load_declared(
    schema: type[_Declared], build: Callable[[_Declared], _Model], path: Path, what: str
) -> list[_Model]:
    """The models a YAML or JSON file (JSON is YAML) declares; see `parse_declared`.

    Raises:
        ModelsConfigError: the file cannot be read or parsed, or an entry is invalid.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelsConfigError(f"{what} {path}: {exc}") from None
    return parse_declared(schema, build, data or [], what)


def parse_setting(text: str, parse: Callable[[object], list[_Model]]) -> list[_Model]:
    """Models from the `models` setting of `Configure` (YAML or JSON text), through `parse`.

    Raises:
        PrizmError: INVALID_ARGUMENT naming `settings.models` and the problem.
    """
    try:
        return parse(yaml.safe_load(text) or [])
    except (yaml.YAMLError, ModelsConfigError) as exc:
        raise invalid_argument([("settings.models", str(exc))]) from None
