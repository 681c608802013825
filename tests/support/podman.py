"""A private podman (Debian's 4.3) for playing the Helm chart's manifests with `podman kube play`.

Everything it makes lives in one folder: its image store, run state, config and CNI network folder
(podman writes a `podman-default-kube-network.conflist` on the first `kube play`, even for host
networking). The Pods use the host network, so podman makes no bridge and no firewall rule
(DESIGN §6). One thing lands outside the folder: as root, podman 4.3's `load` keeps a small cache of
layer digests in /var/lib/containers/cache whatever the store (it has no setting for it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import ImageNotFound

__all__ = ["PLAYED_KINDS", "Podman", "playable", "podman_program"]

# The kinds `podman kube play` 4.3 understands; it refuses a file with any other.
PLAYED_KINDS = frozenset({"Pod", "Deployment", "PersistentVolumeClaim", "ConfigMap"})
# Root here lacks CAP_SYS_RESOURCE, so the default limits (raising nofile) fail every container;
# `kube play` has no --ulimit, only this file. No systemd to run cgroups or the event journal.
_CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{home}/tmp"

[network]
network_config_dir = "{home}/net"
"""
_STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{home}/root"
runroot = "{home}/run"
"""
_TIMEOUT_S = 120

Doc = dict[str, Any]


def podman_program() -> str | None:
    """The `podman` on PATH when its pause image can be built (catatonit is there), else None."""
    program = shutil.which("podman")
    return program if program and shutil.which("catatonit") else None


def playable(docs: list[Doc]) -> list[Doc]:
    """The documents `podman kube play` 4.3 runs as Kubernetes would, from a rendered chart.

    Keeps the kinds podman plays. Drops each container's `ports`: podman 4.3 turns them into port
    mappings, which it refuses on the host network ("PortMappings can only be used with Bridge or
    slirp4netns networking"); there they only name the ports, which nothing under podman reads.
    """
    kept = [json.loads(json.dumps(doc)) for doc in docs if doc.get("kind") in PLAYED_KINDS]
    for doc in kept:
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                container.pop("ports", None)
    return kept


@dataclass(frozen=True)
class Podman:
    """podman with its storage, run state and config under `home`.

    Attributes:
        program: The podman executable.
        home: The folder that holds everything podman makes; `destroy` removes it.
    """

    program: str
    home: Path

    @classmethod
    def create(cls, program: str) -> Podman:
        """A podman with a fresh folder under /var/tmp (overlay needs a real file system, not tmpfs)."""
        home = Path(tempfile.mkdtemp(prefix="prizm-podman-", dir="/var/tmp"))
        (home / "containers.conf").write_text(_CONTAINERS_CONF.format(home=home), encoding="utf-8")
        (home / "storage.conf").write_text(_STORAGE_CONF.format(home=home), encoding="utf-8")
        return cls(program, home)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs `podman ARGS` on this store; fails with its output unless `check` is False."""
        done = subprocess.run(
            [self.program, *args],
            env={
                **os.environ,
                # Each replaces, not amends, the machine's and the user's files.
                "CONTAINERS_CONF": str(self.home / "containers.conf"),
                "CONTAINERS_STORAGE_CONF": str(self.home / "storage.conf"),
            },
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
            )
        return done

    def listed(self, *args: str) -> list[dict[str, Any]]:
        """The JSON list a `podman … --format json` listing prints (`ps -a`, `pod ps`, `volume ls`…)."""
        return list(json.loads(self.run(*args, "--format", "json").stdout or "[]"))

    def load(self, client: docker.DockerClient, image: str) -> bool:
        """Copies `image` from the Docker engine unless this store has the same image ID.

        Returns:
            Whether it was copied (False: the store already had it).
        """
        try:
            wanted = str(client.images.get(image).id).removeprefix("sha256:")
        except ImageNotFound as exc:
            raise AssertionError(f"the Docker engine has no {image}") from exc
        have = self.run("image", "inspect", "--format", "{{.Id}}", image, check=False)
        if have.returncode == 0 and have.stdout.strip() == wanted:
            return False
        archive = self.home / "image.tar"
        with archive.open("wb") as out:
            for chunk in client.images.get(image).save(named=True):
                out.write(chunk)
        try:
            self.run("load", "--input", str(archive))
        finally:
            archive.unlink()
        return True

    def destroy(self) -> None:
        """Removes every pod, container, volume and image of this store, then its folder."""
        self.run("pod", "rm", "--all", "--force", check=False)
        self.run("rm", "--all", "--force", check=False)
        self.run("volume", "rm", "--all", "--force", check=False)
        self.run("rmi", "--all", "--force", check=False)
        shutil.rmtree(self.home, ignore_errors=True)
