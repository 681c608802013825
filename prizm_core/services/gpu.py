"""Whether this machine can give a container the GPUs a manifest asks for; NO_GPU when it cannot."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass

import docker
import grpc

from prizm_core.errors import PrizmError, Reason
from prizm_core.services.manifest import Requirements

__all__ = ["Gpu", "check_gpus", "engine_has_nvidia", "host_gpus", "parse_gpu_query"]

logger = logging.getLogger(__name__)

_QUERY = ("--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits")
_MIB_PER_GB = 1e9 / (1 << 20)
_HINT = (
    "install the NVIDIA driver and the NVIDIA Container Toolkit (`nvidia-ctk runtime configure "
    "--runtime=docker`), or run the service on a machine with a GPU"
)


@dataclass(frozen=True)
class Gpu:
    """One NVIDIA device as `nvidia-smi` lists it."""

    index: int
    name: str
    memory_gb: float


def parse_gpu_query(text: str) -> list[Gpu]:
    """The devices in the output of `nvidia-smi --query-gpu=index,name,memory.total
    --format=csv,noheader,nounits` (memory in MiB), e.g. `0, NVIDIA H100 80GB HBM3, 81559`."""
    gpus = []
    for line in text.splitlines():
        index, _, rest = line.partition(",")
        name, _, memory = rest.rpartition(",")
        try:
            gpus.append(Gpu(int(index), name.strip(), round(float(memory) / _MIB_PER_GB, 1)))
        except ValueError:
            continue  # "[N/A]" memory or a warning line: not a device this can use
    return gpus


def host_gpus() -> list[Gpu]:
    """The NVIDIA devices of this machine; none where `nvidia-smi` is missing or fails."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return []
    try:
        done = subprocess.run([program, *_QUERY], capture_output=True, text=True, timeout=15, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.info("nvidia-smi failed, so no GPU is counted: %s", exc)
        return []
    return parse_gpu_query(done.stdout)


def engine_has_nvidia(client: docker.DockerClient) -> bool:
    """Whether the Docker engine lists the `nvidia` runtime (the NVIDIA Container Toolkit)."""
    runtimes = client.info().get("Runtimes") or {}
    return "nvidia" in runtimes


def check_gpus(client: docker.DockerClient, service: str, wanted: Requirements) -> None:
    """Refuses a service whose GPU needs this machine cannot meet; nothing is created either way.

    Args:
        client: The engine the container would run on.
        service: The service's name, for the message.
        wanted: The manifest's requirements.

    Raises:
        PrizmError: FAILED_PRECONDITION `NO_GPU`, saying what is wanted and what the machine has.
    """
    if wanted.gpus == 0:
        return
    gpus = host_gpus()
    count = "every GPU" if wanted.gpus == "all" else f"{wanted.gpus} GPU(s)"
    problem = ""
    if not gpus and not engine_has_nvidia(client):
        problem = f"service {service} needs {count}, and this machine has none: no NVIDIA device "
        problem += "(nvidia-smi) and no `nvidia` runtime in the Docker engine"
    elif gpus and isinstance(wanted.gpus, int) and len(gpus) < wanted.gpus:
        problem = f"service {service} needs {count}, and this machine has {len(gpus)}"
    elif gpus and wanted.gpu_memory_gb > max(gpu.memory_gb for gpu in gpus):
        largest = max(gpu.memory_gb for gpu in gpus)
        problem = f"service {service} needs {wanted.gpu_memory_gb:g} GB on a GPU; the largest here "
        problem += f"has {largest:g} GB"
    if problem:
        raise PrizmError(
            grpc.StatusCode.FAILED_PRECONDITION,
            Reason.NO_GPU,
            f"{problem}; {_HINT}",
            metadata={"service": service},
        )
