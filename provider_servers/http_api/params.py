"""A model's parameters in the config: a standard option by name, or one of the API's own."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from prizm_core.option_vocabulary import STANDARD_OPTIONS
from provider_servers.sdk import Param, standard_param

__all__ = ["OwnParam", "ParamConfig", "StandardParam", "StrictModel"]

_NAME = r"^[a-z][a-z0-9_]*$"
Scalar = str | int | float | bool


class StrictModel(BaseModel):
    """A config section: unknown keys refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StandardParam(StrictModel):
    """A standard option of docs/options.md, with this model's bounds, choices and default."""

    standard: str = Field(description="The standard option's name, e.g. format, seed, width.")
    note: str = ""
    default: Scalar | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int = Field(default=0, ge=0)
    required: bool = False

    def param(self) -> Param:
        """The SDK parameter (type and meaning from the vocabulary)."""
        return standard_param(
            self.standard,
            note=self.note,
            default=self.default,
            minimum=self.minimum,
            maximum=self.maximum,
            choices=self.choices,
            max_length=self.max_length,
            required=self.required,
        )

    @model_validator(mode="after")
    def _known(self) -> StandardParam:
        if self.standard not in {option.name for option in STANDARD_OPTIONS}:
            raise ValueError(f"{self.standard!r} is not a standard option (see docs/options.md)")
        self.param()  # raises ValueError for bounds on a string, choices on a number
        return self


class OwnParam(StrictModel):
    """An option of the vendor's own, under the vendor's name."""

    name: str = Field(pattern=_NAME)
    type: Literal["string", "integer", "number", "boolean"]
    description: str = ""
    default: Scalar | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int = Field(default=0, ge=0)
    required: bool = False

    def param(self) -> Param:
        """The SDK parameter."""
        fields = self.model_dump(exclude={"name", "type"})
        return Param(self.name, self.type, **fields)

    @model_validator(mode="after")
    def _not_standard(self) -> OwnParam:
        if self.name in {option.name for option in STANDARD_OPTIONS}:
            raise ValueError(f"{self.name!r} is a standard option: declare it as `standard: {self.name}`")
        return self


def _param_tag(value: Any) -> str:
    standard = isinstance(value, StandardParam) or (isinstance(value, dict) and "standard" in value)
    return "standard" if standard else "own"


ParamConfig = Annotated[
    Annotated[StandardParam, Tag("standard")] | Annotated[OwnParam, Tag("own")], Discriminator(_param_tag)
]
