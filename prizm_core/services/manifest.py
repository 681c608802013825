"""`prizm.service.yml`: a container service's manifest, declared once with pydantic and loaded with lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import grpc
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from yaml.nodes import Node

from prizm_core.errors import PrizmError, Reason
from prizm_core.services.fields import (
    CapabilityName,
    EnvName,
    EnvValue,
    FieldError,
    GpuCount,
    ImageRef,
    MemorySize,
    ServiceName,
)
from prizm_core.services.yaml_lines import compose, duplicate_keys, line_of

__all__ = [
    "MANIFEST_FILE",
    "Adapter",
    "BuildSpec",
    "ComposeRef",
    "HealthCheck",
    "ManifestError",
    "ManifestProblem",
    "Requirements",
    "ServiceManifest",
    "Volume",
    "load_manifest",
]

MANIFEST_FILE = "prizm.service.yml"


class _Section(BaseModel):
    """A part of the manifest: unknown keys refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _directory(info: ValidationInfo) -> Path:
    """The manifest's folder, which relative paths are resolved against (the working one without)."""
    context = info.context if isinstance(info.context, dict) else {}
    directory = context.get("directory")
    return directory if isinstance(directory, Path) else Path.cwd()


class ComposeRef(_Section):
    """A service of a Compose file whose `build:` section makes the image."""

    file: str = Field(min_length=1, description="The Compose file, relative to the manifest's folder.")
    service: str = Field(min_length=1, description="The service under `services:` whose build is used.")

    @model_validator(mode="after")
    def _exists(self, info: ValidationInfo) -> ComposeRef:
        if not (_directory(info) / self.file).is_file():
            raise FieldError("file", f"no such file: {self.file}")
        return self


class BuildSpec(_Section):
    """How to build the image when it is missing: a Dockerfile, or a Compose service's build."""

    context: str = Field(default=".", description="The build context, relative to the manifest's folder.")
    dockerfile: str | None = Field(default=None, description="The Dockerfile, relative to the context.")
    args: dict[EnvName, EnvValue] = Field(default_factory=dict, description="Build arguments (ARG).")
    wheels: tuple[str, ...] = Field(
        default=(),
        description="pip requirements downloaded on the host into <context>/wheels/ before the build.",
    )
    compose: ComposeRef | None = Field(default=None, description="Build a Compose service instead.")

    @model_validator(mode="after")
    def _one_way(self, info: ValidationInfo) -> BuildSpec:
        if (self.dockerfile is None) == (self.compose is None):
            raise FieldError("dockerfile", "give exactly one of `dockerfile` and `compose`")
        if self.compose is not None:
            for field in ("context", "args"):
                if field in self.model_fields_set:
                    raise FieldError(field, "comes from the Compose file's build section with `compose`")
            return self
        context = _directory(info) / self.context
        if not context.is_dir():
            raise FieldError("context", f"no such folder: {self.context}")
        if not (context / str(self.dockerfile)).is_file():
            raise FieldError("dockerfile", f"no such file in the context: {self.dockerfile}")
        return self


class HealthCheck(_Section):
    """How Prizm knows the service is up: an HTTP GET that answers 2xx, or a gRPC health Check."""

    http: str | None = Field(default=None, pattern=r"^/", description="The path to GET; 2xx is healthy.")
    grpc: str | None = Field(default=None, description='The grpc.health.v1 service name ("" for the server).')
    interval_s: float = Field(default=0.5, gt=0, description="Seconds between two checks while starting.")
    start_timeout_s: float = Field(default=300, gt=0, description="Seconds the service has to get healthy.")

    @model_validator(mode="after")
    def _one_kind(self) -> HealthCheck:
        if (self.http is None) == (self.grpc is None):
            raise FieldError("http", "give exactly one of `http` and `grpc`")
        return self


class Adapter(_Section):
    """Which provider maps `ModelService` onto the container's API."""

    kind: Literal["cog", "http", "provider"] = Field(
        description="cog: a Cog model server; http: a provider_servers.http_api config; "
        "provider: a `prizm.providers` entry point given PRIZM_SERVICE_URL."
    )
    config: str | None = Field(
        default=None, description="kind http: the http_api config file, relative to the manifest's folder."
    )
    entry_point: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="kind provider: the name of the provider's `prizm.providers` entry point.",
    )

    @model_validator(mode="after")
    def _sub_field(self, info: ValidationInfo) -> Adapter:
        wanted = {"cog": None, "http": "config", "provider": "entry_point"}[self.kind]
        for field in ("config", "entry_point"):
            given = getattr(self, field) is not None
            if field == wanted and not given:
                raise FieldError(field, f"required with kind {self.kind}")
            if field != wanted and given:
                raise FieldError(field, f"not used with kind {self.kind}")
        if self.config is not None and not (_directory(info) / self.config).is_file():
            raise FieldError("config", f"no such file: {self.config}")
        return self


class Requirements(_Section):
    """What the service needs of the machine; Docker enforces memory and CPUs."""

    gpus: GpuCount = Field(default=0, description="GPUs to hand the container: a number, or all.")
    gpu_memory_gb: float = Field(default=0, ge=0, description="Memory the service needs on one GPU, in GB.")
    memory: MemorySize | None = Field(default=None, description="Memory limit, such as 2g or 512m.")
    cpus: float | None = Field(default=None, gt=0, description="CPU limit, in CPUs (0.5 is half of one).")

    @model_validator(mode="after")
    def _gpu_memory(self) -> Requirements:
        if self.gpu_memory_gb > 0 and self.gpus == 0:
            raise FieldError("gpu_memory_gb", "needs `gpus` (1 or more, or all)")
        return self


class Volume(_Section):
    """A folder of the host bound into the container."""

    source: str = Field(min_length=1, description="The host folder, relative to the manifest's folder.")
    target: str = Field(pattern=r"^/", description="The absolute path inside the container.")
    read_only: bool = Field(default=False, description="Mount it read-only.")


class ServiceManifest(_Section):
    """A container service: its image, how to reach it and know it is up, and what it offers."""

    name: ServiceName = Field(description="The service's name; its container is prizm-<name>.")
    version: str = Field(min_length=1, description="The service's version, e.g. 1.0.0 (quote a bare 1.0).")
    description: str = Field(default="", description="One line on what the service does.")
    image: ImageRef = Field(description="The image to run; built from `build` when it is missing.")
    build: BuildSpec | None = Field(default=None, description="How to build the image when it is missing.")
    port: int | None = Field(default=None, ge=1, le=65535, description="The loopback port it listens on.")
    port_env: EnvName | None = Field(
        default=None, description="A variable through which Prizm passes the port it picked."
    )
    command: tuple[str, ...] | None = Field(default=None, min_length=1, description="Overrides the CMD.")
    health: HealthCheck = Field(description="How Prizm knows the service is up.")
    capabilities: tuple[CapabilityName, ...] = Field(min_length=1, description="What it does, by CLI name.")
    adapter: Adapter = Field(description="Which provider maps ModelService onto the container's API.")
    requirements: Requirements = Field(default_factory=Requirements, description="What it needs.")
    environment: dict[EnvName, EnvValue] = Field(default_factory=dict, description="The environment.")
    volumes: tuple[Volume, ...] = Field(default=(), description="Host folders bound into the container.")
    _directory: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> ServiceManifest:
        if self.port is None and self.port_env is None:
            raise FieldError("port", "required unless `port_env` is given")
        if self.build is not None and ":" not in self.image.rpartition("/")[2]:
            raise FieldError("image", "must name a tag (name:tag) for `build` to make it")
        if len(set(self.capabilities)) != len(self.capabilities):
            raise FieldError("capabilities", "names a capability twice")
        self._directory = _directory(info)
        return self

    @property
    def directory(self) -> Path:
        """The folder the manifest is in, which its relative paths are resolved against."""
        return self._directory


@dataclass(frozen=True)
class ManifestProblem:
    """One thing wrong with a manifest, with where it is."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ManifestError(ValueError):
    """A manifest that cannot be used; its message has one `file:line: field.path: problem` per line.

    Attributes:
        problems: Each problem, in the file's order.
    """

    def __init__(self, problems: list[ManifestProblem]) -> None:
        """Takes the problems found (at least one)."""
        self.problems = sorted(problems, key=lambda problem: problem.line)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def to_prizm_error(self) -> PrizmError:
        """The error as it crosses an RPC: INVALID_ARGUMENT `MANIFEST_INVALID`, a violation per field."""
        return PrizmError(
            grpc.StatusCode.INVALID_ARGUMENT,
            Reason.MANIFEST_INVALID,
            str(self),
            field_violations=[(problem.field, problem.message) for problem in self.problems],
        )


def _problem(file: str, root: Node | None, error: Any) -> ManifestProblem:
    """A pydantic error as a problem; a `FieldError` names the field within the model that raised it."""
    path: tuple[str | int, ...] = tuple(error["loc"])
    cause = error.get("ctx", {}).get("error")
    # A validator's own ValueError reads better without pydantic's "Value error, " in front.
    message = str(cause) if isinstance(cause, ValueError) else str(error["msg"])
    if isinstance(cause, FieldError):
        path = (*path, cause.field)
    shown = ".".join(str(part) for part in path if part != "[key]") or "(manifest)"
    return ManifestProblem(file, line_of(root, path), shown, message)


def _echo(error: Any, errors: list[Any]) -> bool:
    """A list's "too short" error that only counts the items already reported as bad."""
    if error["type"] != "too_short":
        return False
    loc = tuple(error["loc"])
    return any(len(other["loc"]) > len(loc) and tuple(other["loc"])[: len(loc)] == loc for other in errors)


def load_manifest(path: Path) -> ServiceManifest:
    """Reads and validates a `prizm.service.yml`.

    Args:
        path: The manifest file; relative paths in it are resolved against its folder.

    Returns:
        The manifest, with `directory` set to the file's (absolute) folder.

    Raises:
        ManifestError: The file cannot be read, is not YAML, or does not fit the schema; one line per
            problem, e.g. `prizm.service.yml:12: health.http: String should match pattern '^/'`.
    """
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError([ManifestProblem(file, 1, "(file)", f"cannot read it: {exc}")]) from None
    try:
        root = compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        what = getattr(exc, "problem", None) or str(exc)
        raise ManifestError([ManifestProblem(file, line, "(yaml)", f"not valid YAML: {what}")]) from None
    if not isinstance(data, dict):
        raise ManifestError([ManifestProblem(file, 1, "(manifest)", "must be a mapping of fields")])
    problems = [ManifestProblem(file, line, field, "given twice") for field, line in duplicate_keys(root)]
    try:
        manifest = ServiceManifest.model_validate(data, context={"directory": path.resolve().parent})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems += [_problem(file, root, error) for error in errors if not _echo(error, errors)]
    if problems:
        raise ManifestError(problems)
    return manifest
