"""Replicate models declared in a YAML or JSON list (`PRIZM_REPLICATE_MODELS` or the `models` setting)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from provider_servers.remote.model_config import (
    DeclaredModel,
    ModelsConfigError,
    load_declared,
    parse_declared,
)
from provider_servers.replicate.mapping import parse_model_ref
from provider_servers.replicate.models import ReplicateModel

__all__ = ["MODELS_ENV", "ModelsConfigError", "ReplicateModelConfig", "load_models", "parse_models"]

MODELS_ENV = "PRIZM_REPLICATE_MODELS"
_WHAT = "invalid Replicate models"


class ReplicateModelConfig(DeclaredModel):
    """One Replicate model as a config declares it, e.g. in YAML:

    ```yaml
    - id: acme-flux                      # the model's id in Prizm
      ref: deployments/acme/flux         # or owner/name, or owner/name:version
      capability: text-to-image
      prices: {compute_second: 0.001}    # USD per media unit
      typical_s: 2                       # for estimates of compute_second
      parameters:                        # checked before any call; standard ones take their type
        - {name: format, choices: [png], default: png}
        - {name: steps, type: integer, minimum: 1, maximum: 50, default: 28}
      renames: {format: output_format}   # option → the model's input field
      output_mime_type: image/png
    ```
    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:-]*$", description="The model's id in Prizm")
    ref: str = Field(default="", description="owner/name, owner/name:version or deployments/owner/name")
    input_field: str = "prompt"
    renames: dict[str, str] = Field(default_factory=dict, description="option name → the model's field")
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    output_mime_types: dict[str, str] = Field(default_factory=dict, description="by value of `format`")
    typical_s: float = Field(default=0.0, ge=0.0, description="seconds a run takes, for estimates")

    def model(self) -> ReplicateModel:
        """The model this declares.

        Raises:
            ValueError: `ref` (or `id`, when no `ref`) names no Replicate model, or a parameter
                cannot be declared.
        """
        parse_model_ref(self.ref or self.id)
        return ReplicateModel(
            self.spec(f"Replicate model {self.ref or self.id}, declared in config."),
            ref=self.ref,
            input_field=self.input_field,
            renames=dict(self.renames),
            values={name: dict(values) for name, values in self.values.items()},
            output_mime_types=dict(self.output_mime_types),
            typical_s=self.typical_s,
        )


def parse_models(data: object) -> list[ReplicateModel]:
    """Models from a parsed config (a list of model mappings).

    Raises:
        ModelsConfigError: naming the field path of each problem.
    """
    return parse_declared(ReplicateModelConfig, ReplicateModelConfig.model, data, _WHAT)


def load_models(path: Path) -> list[ReplicateModel]:
    """Models from a YAML or JSON file.

    Raises:
        ModelsConfigError: the file cannot be read or is invalid.
    """
    return load_declared(ReplicateModelConfig, ReplicateModelConfig.model, path, "Replicate models config")
