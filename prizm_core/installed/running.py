"""Added providers started at once for a router that is already running, and stopped again.

`prizm up` serves added providers as its own sidecars; a router already running learns of a new one
from the provider itself: `serve-provider --register ROUTER` keeps a lease there. Such a process
outlives the command that started it, so its pid is kept beside the environment it runs from.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from prizm_core.config import SERVICE_MANIFEST_ENV
from prizm_core.installed.sidecars import CONTAINER_PROVIDER
from prizm_core.installed.store import Installed, InstallError

__all__ = ["start_registered", "stop_registered", "stop_replaced"]

STARTED_FILE = "started.json"
_LISTEN_TIMEOUT_S = 60.0
# A provider drains its jobs for up to its grace period (10 s) after SIGTERM, then deregisters.
_STOP_TIMEOUT_S = 15.0
_POLL_S = 0.1


def _command(entry: Installed, name: str, router: str) -> list[str]:
    python = str(entry.python) if entry.venv is not None else sys.executable
    served = name if entry.manifest is None else CONTAINER_PROVIDER
    return [python, "-m", "prizm_core.cli", "serve-provider", served, "--port", "0", "--register", router]


def _listening(out: Path, process: subprocess.Popen[bytes], name: str) -> str:
    """Waits for the process's `listening` announcement in `out`; its address."""
    deadline = time.monotonic() + _LISTEN_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and event.get("event") == "listening":
                    return str(event["address"])
        if process.poll() is not None:
            log = out.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
            tail = "\n".join(log.strip().splitlines()[-10:])
            raise InstallError(f"{name} exited with {process.returncode} before serving:\n{tail}")
        time.sleep(_POLL_S)
    process.kill()
    raise InstallError(f"{name} did not listen within {_LISTEN_TIMEOUT_S:g} s")


def start_registered(entry: Installed, router: str, folder: Path) -> dict[str, str]:
    """Starts each provider of `entry` as a process that registers itself with `router`.

    Args:
        entry: An added package or service.
        router: The running router's address.
        folder: Where its pids, output and logs are kept (`Store.run_folder`).

    Returns:
        Each provider's name and the address it serves on.

    Raises:
        InstallError: A process exited or did not listen (its log's end attached).
    """
    started: dict[str, dict[str, object]] = {}
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {SERVICE_MANIFEST_ENV: str(entry.manifest)} if entry.manifest is not None else {}
    env = {**os.environ, **manifest}
    try:
        for name in entry.provides:
            out = folder / f"{name}.out"
            # Its stdout to a file: a pipe would break when this command exits.
            with out.open("wb") as stdout, out.with_suffix(".log").open("wb") as stderr:
                process = subprocess.Popen(
                    _command(entry, name, router),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,
                )
            started[name] = {"pid": process.pid, "address": "", "router": router}
            started[name]["address"] = _listening(out, process, name)
    finally:
        (folder / STARTED_FILE).write_text(json.dumps(started, indent=2) + "\n", encoding="utf-8")
    return {name: str(process["address"]) for name, process in started.items()}


def _alive(pid: int, program: str) -> bool:
    """Whether `pid` still runs `program` (a pid is reused once its process is gone)."""
    try:
        return program in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _started(folder: Path) -> dict[str, dict[str, object]]:
    try:
        started: dict[str, dict[str, object]] = json.loads(
            (folder / STARTED_FILE).read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return {}
    return started


def stop_registered(folder: Path) -> list[str]:
    """Stops the processes `start_registered` left running; they deregister as they stop.

    Args:
        folder: Where `start_registered` kept them.

    Returns:
        The names of the providers stopped.
    """
    pids = {name: int(str(process["pid"])) for name, process in _started(folder).items()}
    running = {name: pid for name, pid in pids.items() if _alive(pid, "serve-provider")}
    for pid in running.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while any(_alive(pid, "serve-provider") for pid in running.values()) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    for pid in running.values():
        if _alive(pid, "serve-provider"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    (folder / STARTED_FILE).unlink(missing_ok=True)
    return sorted(running)


def stop_replaced(folders: list[Path], router: str) -> None:
    """Stops the processes started for a router at `router`, which a new one there replaces.

    The new router serves added providers as its sidecars; these would re-register with it and
    serve twice.
    """
    for folder in folders:
        if any(process.get("router") == router for process in _started(folder).values()):
            stop_registered(folder)
