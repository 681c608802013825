"""`prizm provider add` and `remove`: fetch, install into its own environment, check, register."""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

from prizm_core.installed.git import checkout
from prizm_core.installed.running import stop_registered
from prizm_core.installed.specs import GitSource, PathSource, PipSource, Source, parse_spec
from prizm_core.installed.store import Installed, InstallError, Origin, Store
from prizm_core.installed.venvs import PROVIDER_GROUP, create_venv, pip_install, venv_entry_points
from prizm_core.services import MANIFEST_FILE, ManifestError, load_manifest

__all__ = ["Progress", "add_provider", "remove_provider"]

_PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
_NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".mypy_cache")

Progress = Callable[[str], None]
# The folder to install from (None for a requirement pip resolves), and where it came from.
_Fetched = tuple[Path | None, Origin]


def _fetch(source: Source, work: Path, allow_unpinned: bool, progress: Progress) -> _Fetched:
    """The folder to install from (None for a requirement pip resolves) and where it came from."""
    if isinstance(source, PipSource):
        return None, Origin(kind="pip", location=str(source.requirement))
    if isinstance(source, PathSource):
        return source.path, Origin(kind="path", location=str(source.path))
    progress(f"cloning {source.url}")
    commit = checkout(source, work / "checkout", allow_unpinned=allow_unpinned)
    progress(f"checked out {source.ref or 'HEAD'} at {commit}")
    return work / "checkout", Origin(kind="git", location=source.url, ref=source.ref, commit=commit)


def _is_service(folder: Path) -> bool:
    """A folder with a manifest and no Python project: a container service."""
    return (folder / MANIFEST_FILE).is_file() and not any((folder / f).exists() for f in _PROJECT_FILES)


def _package_name(source: Source, fetched: _Fetched) -> str:
    """The distribution's name, known before installing: the requirement's or the project's."""
    if isinstance(source, PipSource):
        return canonicalize_name(source.requirement.name)
    if isinstance(source, GitSource) and source.name:
        return canonicalize_name(source.name)
    folder, origin = fetched
    assert folder is not None  # noqa: S101 - only a requirement has no folder
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        try:
            name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
        except tomllib.TOMLDecodeError as exc:
            raise InstallError(f"{pyproject}: {exc}") from None
        if isinstance(name, str) and name:
            return canonicalize_name(name)
    # A setup.py project names itself only when run; its folder (or repository) name stands in.
    return canonicalize_name(Path(origin.location).stem)


def _taken(entries: tuple[Installed, ...]) -> dict[str, str]:
    """Every provider name in use, and by what: Prizm's own, or an added entry."""
    taken = {point.name: "Prizm's own provider" for point in metadata.entry_points(group=PROVIDER_GROUP)}
    for entry in entries:
        taken.update(dict.fromkeys((entry.name, *entry.provides), f"added {entry.kind} {entry.name}"))
    return taken


def _check_free(names: list[str], entries: tuple[Installed, ...]) -> None:
    again = [name for name in names if name in {entry.name for entry in entries}]
    if again:
        raise InstallError(f"{again[0]} is added already; `prizm provider remove {again[0]}` first")
    taken = _taken(entries)
    clashes = [f"{name!r} is taken by {taken[name]}" for name in names if name in taken]
    if clashes:
        raise InstallError("; ".join(clashes) + " (`prizm provider list` shows the added ones)")


def _why_no_entry_points(name: str) -> str:
    """Why a new environment holds no provider: the package is none, or pip found it in Prizm's own."""
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return f"not a Prizm provider: declares no {PROVIDER_GROUP} entry point"
    # pip saw it installed already (Prizm's environment is on the new one's path), and left it there.
    return f"{name} is installed in Prizm's own environment already: `prizm serve-provider` runs it as it is"


def _add_package(
    store: Store, spec: str, source: Source, fetched: _Fetched, *, offline: bool, progress: Progress
) -> Installed:
    folder, origin = fetched
    name = _package_name(source, fetched)
    entries = store.entries()
    _check_free([name], entries)
    home = store.package_folder(name)
    shutil.rmtree(home, ignore_errors=True)  # what a killed `add` left behind: not in the registry
    try:
        progress(f"creating {home / 'venv'}")
        python = create_venv(home / "venv")
        progress(f"installing {spec}")
        pip_install(python, str(folder) if folder else str(origin.location), offline=offline)
        points = venv_entry_points(python)
        if not points:
            raise InstallError(f"{spec}: {_why_no_entry_points(name)}")
        provides = [point.name for point in points]
        _check_free(provides, entries)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    return Installed(
        name=name,
        kind="package",
        provides=tuple(provides),
        spec=spec,
        origin=origin,
        version=points[0].version,
        venv=home / "venv",
        installed_at=datetime.now(UTC),
    )


def _add_service(store: Store, spec: str, fetched: _Fetched, progress: Progress) -> Installed:
    folder, origin = fetched
    assert folder is not None  # noqa: S101 - a service is always a folder
    try:
        manifest = load_manifest(folder / MANIFEST_FILE)
    except ManifestError as exc:
        # A clone's problems name the repository at its ref, not the temporary folder it is in.
        shown = f"{origin.location}@{origin.ref}" if origin.kind == "git" else str(folder)
        raise InstallError(str(exc).replace(str(folder), shown)) from None
    _check_free([manifest.name], store.entries())
    home = store.service_folder(manifest.name)
    shutil.rmtree(home, ignore_errors=True)
    progress(f"copying {folder} to {home}")
    shutil.copytree(folder, home, ignore=_NOT_COPIED, symlinks=True)
    return Installed(
        name=manifest.name,
        kind="service",
        provides=(manifest.name,),
        spec=spec,
        origin=origin,
        version=manifest.version,
        manifest=home / MANIFEST_FILE,
        installed_at=datetime.now(UTC),
    )


def add_provider(
    store: Store,
    spec: str,
    *,
    cwd: Path,
    allow_unpinned: bool = False,
    offline: bool = False,
    progress: Progress = lambda _: None,
) -> Installed:
    """Installs a provider package or a container service and adds it to the registry.

    Args:
        store: Prizm's data directory.
        spec: A pip requirement, a folder, or a git repository at a tag or commit (see `parse_spec`).
        cwd: The folder relative paths in `spec` start from.
        allow_unpinned: Accept a git branch or no ref.
        offline: Install with no package index (dependencies from Prizm's environment).
        progress: Called with a line for each step.

    Returns:
        The registry's new entry.

    Raises:
        InstallError: The spec, the pin, the install or the name is refused; nothing is left behind.
    """
    source = parse_spec(spec, cwd)
    with store.locked(), tempfile.TemporaryDirectory(prefix="prizm-add-") as work:
        fetched = _fetch(source, Path(work), allow_unpinned, progress)
        folder = fetched[0]
        if folder is not None and _is_service(folder):
            entry = _add_service(store, spec, fetched, progress)
        else:
            if isinstance(source, PathSource):
                # Built from a copy: a build leaves `build/` and `*.egg-info` in the folder it runs in.
                copy = shutil.copytree(source.path, Path(work) / "source", ignore=_NOT_COPIED, symlinks=True)
                fetched = (Path(copy), fetched[1])
            entry = _add_package(store, spec, source, fetched, offline=offline, progress=progress)
        store.save((*store.entries(), entry))
    return entry


def remove_provider(store: Store, name: str) -> Installed:
    """Stops what was started for a running router, deletes the environment or service folder and
    the registry entry.

    Args:
        store: Prizm's data directory.
        name: Its registry name or one of the provider names it provides.

    Returns:
        The entry removed.

    Raises:
        InstallError: Nothing added goes by that name.
    """
    with store.locked():
        entries = store.entries()
        found = [entry for entry in entries if name == entry.name or name in entry.provides]
        if not found:
            added = ", ".join(entry.name for entry in entries) or "none"
            raise InstallError(f"no added provider named {name!r}; added: {added}")
        entry = found[0]
        stop_registered(store.run_folder(entry.name))
        store.save(tuple(other for other in entries if other is not entry))
        shutil.rmtree(entry.folder, ignore_errors=True)
        shutil.rmtree(store.run_folder(entry.name), ignore_errors=True)
    return entry
