"""Prizm's data directory and its registry of added providers (`providers.json`)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

__all__ = ["InstallError", "Installed", "Origin", "Store", "prizm_home"]

REGISTRY_FILE = "providers.json"


class InstallError(ValueError):
    """A provider that cannot be added or removed, with the reason in words."""


def prizm_home(environ: Mapping[str, str]) -> Path:
    """Prizm's data directory: `$PRIZM_HOME`, else `${XDG_DATA_HOME:-~/.local/share}/prizm`."""
    if environ.get("PRIZM_HOME"):
        return Path(environ["PRIZM_HOME"]).expanduser()
    data = environ.get("XDG_DATA_HOME") or str(Path("~/.local/share").expanduser())
    return Path(data) / "prizm"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Origin(_Record):
    """Where an added provider came from.

    Attributes:
        kind: `pip` (a requirement), `path` (a local folder) or `git` (a repository at a commit).
        location: The requirement, the folder's absolute path, or the repository's URL.
        ref: The tag or commit the spec named (git), empty otherwise.
        commit: The commit installed (git), as a full SHA.
    """

    kind: Literal["pip", "path", "git"]
    location: str
    ref: str = ""
    commit: str = ""


class Installed(_Record):
    """One added provider package or container service.

    Attributes:
        name: Its name in the registry: the distribution's (package) or the manifest's (service).
        kind: `package` (served from its own virtual environment) or `service` (a container).
        provides: The provider names it serves (`prizm.providers` entry points; a service's name).
        spec: The spec as given to `prizm provider add`.
        origin: Where it came from, with the commit for git.
        version: The distribution's or the manifest's version.
        venv: The virtual environment it is installed in (package).
        manifest: Its copied `prizm.service.yml` (service).
        installed_at: When it was added.
    """

    name: str
    kind: Literal["package", "service"]
    provides: tuple[str, ...]
    spec: str
    origin: Origin
    version: str = ""
    venv: Path | None = None
    manifest: Path | None = None
    installed_at: datetime

    @model_validator(mode="after")
    def _one_home(self) -> Installed:
        if (self.kind == "package") != (self.venv is not None and self.manifest is None):
            raise ValueError("a package has a venv and no manifest; a service a manifest and no venv")
        return self

    @property
    def folder(self) -> Path:
        """The folder that holds everything it installed."""
        held = self.venv if self.venv is not None else self.manifest
        if held is None:  # the model is never built without one of them
            raise InstallError(f"{self.name}: registry entry names neither a venv nor a manifest")
        return held.parent

    @property
    def python(self) -> Path:
        """The interpreter of its virtual environment (package)."""
        if self.venv is None:
            raise InstallError(f"{self.name} is a service: it has no virtual environment")
        return self.venv / "bin" / "python"


class _Registry(_Record):
    version: Literal[1] = 1
    installed: tuple[Installed, ...] = ()


class Store:
    """The data directory: `providers.json`, `providers/<name>/venv`, `services/<name>/`."""

    def __init__(self, home: Path) -> None:
        """Uses `home` (see `prizm_home`); nothing is created until something is added.

        Args:
            home: Prizm's data directory.
        """
        self.home = home

    @property
    def registry(self) -> Path:
        """The registry file."""
        return self.home / REGISTRY_FILE

    def package_folder(self, name: str) -> Path:
        """Where a package's virtual environment lives."""
        return self.home / "providers" / name

    def service_folder(self, name: str) -> Path:
        """Where a service's files are copied."""
        return self.home / "services" / name

    def run_folder(self, name: str) -> Path:
        """Where processes started for a running router keep their pids, output and logs."""
        return self.home / "run" / name

    def entries(self) -> tuple[Installed, ...]:
        """Everything added, in the order it was added; none when the registry does not exist."""
        try:
            text = self.registry.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ()
        try:
            return _Registry.model_validate_json(text).installed
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InstallError(f"{self.registry}: {where}: {first['msg']}") from None

    def save(self, entries: tuple[Installed, ...]) -> None:
        """Replaces the registry at once (a temporary file renamed over it): never half written."""
        self.home.mkdir(parents=True, exist_ok=True)
        text = _Registry(installed=entries).model_dump_json(indent=2)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.home, prefix=".providers-", delete=False
        ) as out:
            out.write(text + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(out.name, self.registry)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the data directory's lock: a second `add` or `remove` waits for this one."""
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
