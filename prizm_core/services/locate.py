"""Finding a service's manifest from what a person types: a file, a folder, or a service's name."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from prizm_core.installed import prizm_home
from prizm_core.services.manifest import MANIFEST_FILE

__all__ = ["ServiceNotFoundError", "find_manifest", "search_folders"]


class ServiceNotFoundError(LookupError):
    """No manifest file, folder or service of that name; the message says where it looked."""


def search_folders(environ: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where services are looked up by name, in order: `$PRIZM_SERVICE_PATH` (colon-separated),
    `<PRIZM_HOME>/services`, `./services` and `./services/examples`."""
    given = [
        Path(part).expanduser() for part in environ.get("PRIZM_SERVICE_PATH", "").split(os.pathsep) if part
    ]
    return [*given, prizm_home(environ) / "services", cwd / "services", cwd / "services" / "examples"]


def _candidates(folders: list[Path]) -> Iterator[Path]:
    """Each manifest in the folders: one a folder holds itself, then those of its sub-folders."""
    for folder in folders:
        if (folder / MANIFEST_FILE).is_file():
            yield folder / MANIFEST_FILE
        if folder.is_dir():
            yield from sorted(folder.glob(f"*/{MANIFEST_FILE}"))


def _declared_name(manifest: Path) -> str | None:
    """The `name:` a manifest declares, read leniently: a broken one is reported when it is used."""
    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return str(data.get("name")) if isinstance(data, dict) else None


def find_manifest(spec: str, environ: Mapping[str, str], cwd: Path) -> Path:
    """The manifest `spec` names: a manifest file, a folder holding `prizm.service.yml`, or the name
    of a service (its folder's name or its manifest's `name`) in the `search_folders`.

    Raises:
        ServiceNotFoundError: Nothing matches; the message lists the folders searched.
    """
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / MANIFEST_FILE).is_file():
            return path / MANIFEST_FILE
        raise ServiceNotFoundError(f"{spec} holds no {MANIFEST_FILE}")
    folders = search_folders(environ, cwd)
    found = list(_candidates(folders))
    for manifest in found:
        if manifest.parent.name == spec:
            return manifest
    for manifest in found:
        if _declared_name(manifest) == spec:
            return manifest
    searched = ", ".join(str(folder) for folder in folders)
    raise ServiceNotFoundError(f"no service {spec!r}: not a file or folder, nor a service in {searched}")
