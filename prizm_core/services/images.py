"""A service's image: found locally, pulled, or built from its Dockerfile or Compose service."""

from __future__ import annotations

import re
import shutil
import string
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import grpc
import yaml

from prizm_core.errors import PrizmError, Reason
from prizm_core.services.manifest import BuildSpec, ComposeRef, ServiceManifest

__all__ = ["BuildPlan", "base_images", "build_plan", "download_wheels", "ensure_image"]

Progress = Callable[[str], None]

# Where a Dockerfile names its base image, and the build arguments a FROM line may use.
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE | re.MULTILINE)
_ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?", re.IGNORECASE | re.MULTILINE)
# Base images that no registry has: `scripts/docker_engine.sh base` makes them.
_LOCAL_BASE = "prizm/base"
_WHEELS = "wheels"
_WHEELS_STAMP = ".prizm-requirements"
_TAIL = 12


@dataclass(frozen=True)
class BuildPlan:
    """What `docker build` is given: the context folder, the Dockerfile in it and the arguments."""

    context: Path
    dockerfile: str
    args: Mapping[str, str]


def _failed(service: str, message: str) -> PrizmError:
    return PrizmError(
        grpc.StatusCode.UNAVAILABLE, Reason.SERVICE_FAILED, message, metadata={"service": service}
    )


def _compose_error(file: Path, message: str) -> PrizmError:
    return PrizmError(grpc.StatusCode.INVALID_ARGUMENT, Reason.MANIFEST_INVALID, f"{file}: {message}")


def _compose_args(value: Any) -> dict[str, str]:
    """Compose's `args:`, a mapping or a list of `KEY=VALUE`."""
    if isinstance(value, Mapping):
        return {str(key): "" if item is None else str(item) for key, item in value.items()}
    if isinstance(value, list):
        return dict(str(item).partition("=")[::2] for item in value)
    return {}


def _compose_plan(directory: Path, compose: ComposeRef) -> BuildPlan:
    """The build of the Compose service the manifest names, read from its Compose file."""
    file = directory / compose.file
    try:
        services = (yaml.safe_load(file.read_text(encoding="utf-8")) or {}).get("services") or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError) as exc:
        raise _compose_error(file, f"cannot read it as a Compose file: {exc}") from None
    section = services.get(compose.service) if isinstance(services, dict) else None
    if not isinstance(section, dict) or "build" not in section:
        raise _compose_error(file, f"services.{compose.service}.build: missing")
    spec = section["build"]
    spec = {"context": spec} if isinstance(spec, str) else spec
    if not isinstance(spec, dict):
        raise _compose_error(file, f"services.{compose.service}.build: not a path or a mapping")
    return BuildPlan(
        context=(file.parent / str(spec.get("context", "."))).resolve(),
        dockerfile=str(spec.get("dockerfile", "Dockerfile")),
        args=_compose_args(spec.get("args")),
    )


def build_plan(directory: Path, build: BuildSpec) -> BuildPlan:
    """How a manifest's image is built, its paths resolved against the manifest's `directory`."""
    if build.compose is not None:
        return _compose_plan(directory, build.compose)
    return BuildPlan(
        context=(directory / build.context).resolve(),
        dockerfile=str(build.dockerfile),
        args=dict(build.args),
    )


def base_images(dockerfile: str, args: Mapping[str, str]) -> list[str]:
    """The images a Dockerfile's FROM lines start from, build arguments filled in, stages left out."""
    values = {name: default for name, default in _ARG.findall(dockerfile)} | dict(args)
    stages: set[str] = set()
    images = []
    for reference, stage in _FROM.findall(dockerfile):
        image = string.Template(reference).safe_substitute(values)
        if image.lower() not in stages and image != "scratch":
            images.append(image)
        if stage:
            stages.add(stage.lower())
    return images


def _present(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def _check_bases(client: docker.DockerClient, service: str, plan: BuildPlan) -> None:
    try:
        text = (plan.context / plan.dockerfile).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _failed(service, f"cannot read the Dockerfile {plan.dockerfile}: {exc}") from None
    for image in base_images(text, plan.args):
        if image.startswith(_LOCAL_BASE) and not _present(client, image):
            raise _failed(
                service,
                f"the base image {image} is missing (no registry has it): build it once with "
                "`scripts/docker_engine.sh base`",
            )


def _lines(process: subprocess.Popen[str], progress: Progress) -> list[str]:
    """Every line the process writes, each passed on as progress."""
    seen = []
    for line in process.stdout or ():
        if line.strip():
            seen.append(line.rstrip())
            progress(line.rstrip())
    return seen


def download_wheels(service: str, context: Path, requirements: Iterable[str], progress: Progress) -> None:
    """Downloads the requirements' wheels into `<context>/wheels/` with the host's pip, once.

    A build cannot verify TLS here, so the image installs them with `pip install --no-index
    --find-links wheels`. The download is skipped while the requirements stay the same.

    Raises:
        PrizmError: UNAVAILABLE `SERVICE_FAILED` with pip's last lines when the download fails.
    """
    wanted = "\n".join(requirements)
    if not wanted:
        return
    folder = context / _WHEELS
    stamp = folder / _WHEELS_STAMP
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        progress(f"wheels: cached in {folder}")
        return
    # The image installs every wheel in the folder: those of other requirements would clash.
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--dest", str(folder)]
    progress(f"wheels: pip download {' '.join(wanted.splitlines())}")
    with subprocess.Popen(
        [*command, *wanted.splitlines()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        seen = _lines(process, progress)
    if process.returncode != 0:
        raise _failed(service, "pip download failed: " + " | ".join(seen[-_TAIL:]))
    stamp.write_text(wanted, encoding="utf-8")


def _stream(service: str, chunks: Iterable[dict[str, Any]], what: str, progress: Progress) -> None:
    """Passes on a build's or pull's progress lines; its first error fails the service."""
    last: deque[str] = deque(maxlen=_TAIL)
    for chunk in chunks:
        if "error" in chunk:
            before = "\n".join(last)
            raise _failed(service, f"{what} failed: {str(chunk['error']).strip()}\n{before}".rstrip())
        text = str(chunk.get("stream") or chunk.get("status") or "").strip()
        if text:
            last.append(text)
            progress(text)


def ensure_image(client: docker.DockerClient, manifest: ServiceManifest, progress: Progress) -> str:
    """The manifest's image, pulled or built first when the engine does not have it.

    Returns:
        The image's reference (`manifest.image`).

    Raises:
        PrizmError: UNAVAILABLE `SERVICE_FAILED` when it cannot be pulled, downloaded or built (a
            missing local base image names `scripts/docker_engine.sh base`).
    """
    if _present(client, manifest.image):
        return manifest.image
    try:
        if manifest.build is None:
            progress(f"pulling {manifest.image}")
            # The SDK splits the reference into repository, tag and digest itself.
            chunks = client.api.pull(manifest.image, stream=True, decode=True)
            _stream(manifest.name, chunks, f"pulling {manifest.image}", progress)
            return manifest.image
        plan = build_plan(manifest.directory, manifest.build)
        download_wheels(manifest.name, plan.context, manifest.build.wheels, progress)
        _check_bases(client, manifest.name, plan)
        progress(f"building {manifest.image} from {plan.context / plan.dockerfile}")
        chunks = client.api.build(
            path=str(plan.context),
            dockerfile=plan.dockerfile,
            tag=manifest.image,
            buildargs=dict(plan.args),
            rm=True,
            forcerm=True,
            decode=True,
            # The engine has no bridge network (DESIGN §6): build steps share the host's.
            network_mode="host",
        )
        _stream(manifest.name, chunks, f"building {manifest.image}", progress)
    except docker.errors.APIError as exc:
        message = f"getting the image {manifest.image} failed: {exc.explanation}"
        raise _failed(manifest.name, message) from None
    return manifest.image
