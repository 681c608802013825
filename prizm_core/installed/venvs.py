"""Virtual environments that see Prizm's SDK without a copy of it, and the providers installed in them."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import prizm.v1

import prizm_core
import provider_servers
from prizm_core.installed.store import InstallError

__all__ = ["EntryPoint", "create_venv", "pip_install", "prizm_paths", "venv_entry_points"]

PROVIDER_GROUP = "prizm.providers"
# A large dependency tree on a slow link installs in minutes; a hung resolve must not hang `add`.
_PIP_TIMEOUT_S = 1800
_TAIL_LINES = 15

# Run by the new environment's interpreter: the entry points of distributions installed in it (not
# those of Prizm's environment, which it also sees), as JSON.
_ENTRY_POINTS = """
import json, sys, sysconfig
from importlib.metadata import entry_points
from pathlib import Path
own = {Path(sysconfig.get_path(k)).resolve() for k in ("purelib", "platlib")}
found = [
    {"name": p.name, "value": p.value, "distribution": p.dist.name, "version": p.dist.version}
    for p in entry_points(group=sys.argv[1])
    if p.dist is not None and Path(str(p.dist.locate_file(""))).resolve() in own
]
print(json.dumps(found))
"""


@dataclass(frozen=True)
class EntryPoint:
    """A `prizm.providers` entry point found in an environment."""

    name: str
    value: str
    distribution: str
    version: str


def prizm_paths() -> list[str]:
    """What a provider's environment needs on its path to import Prizm as it runs here.

    This environment's site-packages first (its metadata of Prizm is the one found), then the
    folders Prizm's own packages are imported from: an editable install reaches them through an
    import hook, which `.pth` lines do not run (and mypy cannot follow).
    """
    sites = [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    roots = [str(Path(p).parent) for p in (*prizm_core.__path__, *provider_servers.__path__)]
    generated = [str(Path(p).parents[1]) for p in prizm.v1.__path__]
    return list(dict.fromkeys([*sites, *roots, *generated]))


def _run(command: list[str], timeout_s: float, what: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise InstallError(f"{what} took over {timeout_s:g} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-_TAIL_LINES:])
        raise InstallError(f"{what} failed:\n{tail}")
    return done.stdout


def create_venv(venv: Path) -> Path:
    """Creates a virtual environment whose interpreter imports Prizm from this one's.

    Args:
        venv: The folder to create.

    Returns:
        The environment's interpreter.
    """
    # pip comes from Prizm's environment through the `.pth` when it is there; else its own.
    without_pip = ["--without-pip"] if importlib.util.find_spec("pip") is not None else []
    _run([sys.executable, "-m", "venv", *without_pip, str(venv)], 300, "python -m venv")
    python = venv / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], 60, "python")
    (Path(site.strip()) / "prizm.pth").write_text("\n".join(prizm_paths()) + "\n", encoding="utf-8")
    return python


def pip_install(python: Path, target: str, *, offline: bool) -> None:
    """`pip install target` into the environment of `python`.

    Dependencies Prizm's environment already has (Prizm itself, numpy, …) are satisfied from it.

    Args:
        python: The environment's interpreter.
        target: A requirement or a folder.
        offline: No package index, and the build backend from Prizm's environment.
    """
    options = ["--no-index", "--no-build-isolation"] if offline else []
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *options]
    _run([*command, target], _PIP_TIMEOUT_S, f"pip install {target}")


def venv_entry_points(python: Path) -> list[EntryPoint]:
    """The `prizm.providers` entry points of the distributions installed in `python`'s environment."""
    found = json.loads(_run([str(python), "-c", _ENTRY_POINTS, PROVIDER_GROUP], 60, "reading entry points"))
    return [EntryPoint(**point) for point in found]
