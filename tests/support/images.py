"""Prizm's own images (`deploy/images/`), built once per engine for the tests that run them.

A build here cannot verify TLS, so nothing inside it reaches a Python index: Prizm goes in as a
wheel built on the host (`pip wheel --no-deps .`) and its dependencies as wheels `pip download`ed on
the host once (cached outside the repository, keyed by the requirements). An image is rebuilt only
when the sources it holds change: its `prizm.source` label carries their hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.errors import BuildError, ImageNotFound
from docker.models.containers import Container

__all__ = [
    "IMAGES",
    "IMAGES_DIR",
    "OCR_IMAGE",
    "PIPER_IMAGE",
    "PROVIDERS_IMAGE",
    "ROUTER_IMAGE",
    "ImageRecipe",
    "PrizmImages",
    "build_images",
    "health",
    "wait_healthy",
]

ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = ROOT / "deploy" / "images"
ROUTER_IMAGE = "prizm/router:dev"
PROVIDERS_IMAGE = "prizm/providers:dev"
PIPER_IMAGE = "prizm/piper:dev"
OCR_IMAGE = "prizm/ocr:dev"
SOURCE_LABEL = "prizm.source"
# What the images hold of the repository: a change to any of these rebuilds them.
_PACKAGED = ("pyproject.toml", "prizm_core", "provider_servers", "gen/python")
_SOURCES = (*_PACKAGED, "deploy/images")
# One set of downloaded wheels serves every image: all the local providers' Python extras.
_EXTRAS = "local"
_PIP_TIMEOUT_S = 900
# Piper and OCR load their models before they serve: the provider images' start period is a minute.
HEALTHY_TIMEOUT_S = 180


@dataclass(frozen=True)
class ImageRecipe:
    """How one image is built: its Dockerfile in `deploy/images/` and that file's build args."""

    image: str
    dockerfile: str
    buildargs: tuple[tuple[str, str], ...] = ()


# The provider images share providers.Dockerfile (its defaults make prizm/providers:dev); the heavy
# extras get their own so the light image carries neither ONNX Runtime nor OpenCV.
IMAGES = (
    ImageRecipe(ROUTER_IMAGE, "router.Dockerfile"),
    ImageRecipe(PROVIDERS_IMAGE, "providers.Dockerfile"),
    ImageRecipe(
        PIPER_IMAGE,
        "providers.Dockerfile",
        (("EXTRAS", "piper"), ("APT_EXTRA", ""), ("PROVIDER", "piper")),
    ),
    ImageRecipe(
        OCR_IMAGE,
        "providers.Dockerfile",
        (("EXTRAS", "ocr"), ("APT_SHARED", ""), ("APT_EXTRA", ""), ("PROVIDER", "ocr")),
    ),
)


@dataclass(frozen=True)
class PrizmImages:
    """The images, as built into the session's engine.

    Attributes:
        router: Reference of the router image.
        providers: Reference of the image with the light local providers (espeak, ffmpeg,
            imaging, pocketsphinx, synthetic).
        piper: Reference of the Piper image.
        ocr: Reference of the OCR image.
    """

    router: str
    providers: str
    piper: str
    ocr: str


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prizm" / "image-wheels"


def _source_hash() -> str:
    """A hash of every file the images are made from (their contents and paths)."""
    digest = hashlib.sha256()
    for top in _SOURCES:
        path = ROOT / top
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=_PIP_TIMEOUT_S,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        pytest.fail(f"pip {' '.join(args[:2])} failed: {done.stderr.strip()[-2000:]}")


def _requirements(wheel: Path) -> list[str]:
    """The wheel's `Requires-Dist` lines: what the downloaded wheels must satisfy."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    return sorted(line for line in metadata.splitlines() if line.startswith("Requires-Dist:"))


def _dependency_wheels(wheel: Path) -> Path:
    """The dependencies' wheels, downloaded once per set of requirements."""
    key = hashlib.sha256("\n".join(_requirements(wheel)).encode()).hexdigest()[:16]
    folder = _cache_home() / key
    if (folder / ".complete").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # Every wheel, binary only: the image's pip has no compiler and no index.
    _pip("download", "--only-binary=:all:", "--dest", str(folder), f"{wheel}[{_EXTRAS}]")
    (folder / wheel.name).unlink(missing_ok=True)  # Prizm itself comes from the host's fresh wheel.
    (folder / ".complete").write_text("\n".join(_requirements(wheel)), encoding="utf-8")
    return folder


def _tree(folder: Path) -> Path:
    """A copy of what the wheel is built from: building in the repository would reuse (and leave)
    its `build/`, where files deleted since stay and would end up in the wheel."""
    tree = folder / "source"
    for name in (*_PACKAGED, "README.md", "LICENSE"):
        source, target = ROOT / name, tree / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return tree


def _context(folder: Path) -> Path:
    """A build context: the Dockerfiles and entrypoint, `prizm/` (the wheel) and `wheels/`."""
    context = folder / "context"
    shutil.copytree(IMAGES_DIR, context)
    _pip(
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        str(context / "prizm"),
        str(_tree(folder)),
    )
    [wheel] = (context / "prizm").glob("prizm-*.whl")
    shutil.copytree(_dependency_wheels(wheel), context / "wheels", ignore=shutil.ignore_patterns(".*"))
    return context


def _built(client: docker.DockerClient, image: str, source: str) -> bool:
    try:
        labels = client.images.get(image).labels or {}
    except ImageNotFound:
        return False
    return labels.get(SOURCE_LABEL) == source


def _build(client: docker.DockerClient, context: Path, recipe: ImageRecipe, source: str) -> None:
    try:
        client.images.build(
            path=str(context),
            dockerfile=recipe.dockerfile,
            tag=recipe.image,
            buildargs=dict(recipe.buildargs),
            labels={SOURCE_LABEL: source},
            network_mode="host",  # the provider images install Debian packages from the mirror
            rm=True,
            forcerm=True,
        )
    except BuildError as exc:
        said = "\n".join(str(chunk.get("stream") or chunk.get("error") or "") for chunk in exc.build_log)
        pytest.fail(f"building {recipe.image} from {recipe.dockerfile} failed: {exc.msg}\n{said[-3000:]}")


def build_images(client: docker.DockerClient, scratch: Path) -> PrizmImages:
    """Builds the router and provider images unless the engine has them for these sources.

    Args:
        client: The session's engine (it has `prizm/base:bookworm`).
        scratch: An empty folder for the build context.

    Returns:
        The images' references.
    """
    source = _source_hash()
    missing = [recipe for recipe in IMAGES if not _built(client, recipe.image, source)]
    if missing:
        context = _context(scratch)
        for recipe in missing:
            _build(client, context, recipe, source)
    return PrizmImages(router=ROUTER_IMAGE, providers=PROVIDERS_IMAGE, piper=PIPER_IMAGE, ocr=OCR_IMAGE)


def health(container: Container) -> str:
    """Docker's verdict on the container's HEALTHCHECK: starting, healthy or unhealthy."""
    container.reload()
    state = container.attrs["State"]
    if state.get("Status") != "running":
        return f"not running ({state.get('Status')}, exit {state.get('ExitCode')})"
    return str((state.get("Health") or {}).get("Status", "no healthcheck"))


def wait_healthy(container: Container, timeout_s: float = HEALTHY_TIMEOUT_S) -> list[str]:
    """Waits until Docker reports the container `healthy`; its probe's last outputs.

    Fails the test with the container's logs and probe outputs when it turns unhealthy, stops,
    or is still starting after `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    verdict = health(container)
    while verdict == "starting" and time.monotonic() < deadline:
        time.sleep(0.5)
        verdict = health(container)
    probes = [str(entry.get("Output", "")).strip() for entry in container.attrs["State"]["Health"]["Log"]]
    if verdict != "healthy":
        logs = container.logs(tail=30).decode(errors="replace")
        pytest.fail(f"{container.name} is {verdict} after {timeout_s}s; probes: {probes}\nlogs:\n{logs}")
    return probes
