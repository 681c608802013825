"""Cog containers start one at a time on a host: each waits its turn behind a lock file.

cog 0.23's server (coglet) binds the sockets its worker connects to in the abstract namespace, as
`coglet-<its PID>-<slot>`, from before it spawns the worker until the worker has connected (before
the model's setup runs). Abstract sockets belong to the network namespace: Prizm's containers all
run on the host's, and every Cog server is PID 1 in its container, so two Cog containers starting
at the same moment clash ("failed to create transport: Address already in use") and one ends
SETUP_FAILED. coglet has no setting that renames those sockets, and no answer of its server says
when the worker has connected, so a turn lasts from creating the container until its
`/health-check` leaves STARTING (the setup has ended), at most the manifest's start timeout.

The lock is `flock` on `${XDG_CACHE_HOME:-~/.cache}/prizm/locks/cog-start.lock`: held per open
file, so it orders the container providers of one router and of several, and the kernel lets go
of it when a provider dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import grpc

from prizm_core.services.manifest import ServiceManifest
from provider_servers.cog.provider import CogProvider
from provider_servers.sdk import PrizmError, Provider, Reason

__all__ = ["cog_turn", "lock_path", "until_set_up"]

# How often a waiting provider tries the lock again.
_RETRY_S = 0.2
# How often a waiting provider says, in its log, that it still waits.
_TELL_EVERY_S = 30.0


def lock_path(environ: Mapping[str, str]) -> Path:
    """The host's lock file for starting Cog containers (in Prizm's cache folder)."""
    cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "prizm" / "locks" / "cog-start.lock"


async def _take(fd: int, progress: Callable[[str], None]) -> None:
    """Takes the lock, trying again until it is free; a cancel stops the wait at once."""
    started = time.monotonic()
    tell_at = started
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            # Each holder lets go within about its own start timeout, or when its process ends.
            now = time.monotonic()
            if now >= tell_at:
                waited = now - started
                progress(f"waiting for another Cog service on this host to finish starting ({waited:.0f} s)")
                tell_at = now + _TELL_EVERY_S
            await asyncio.sleep(_RETRY_S)


def _open(path: Path, service: str) -> int:
    """The lock file, made if need be; read-only is enough to lock it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise PrizmError(
            grpc.StatusCode.UNAVAILABLE,
            Reason.SERVICE_FAILED,
            f"cannot open {path}, which orders the startups of Cog services: {exc}",
            metadata={"service": service},
        ) from exc


@contextlib.asynccontextmanager
async def cog_turn(
    manifest: ServiceManifest,
    progress: Callable[[str], None],
    environ: Mapping[str, str] = os.environ,
) -> AsyncIterator[float]:
    """This host's turn to start a Cog container, held until the block ends.

    A service whose adapter is not `cog` starts at once, with no lock.

    Args:
        manifest: The service.
        progress: Told while the turn is awaited.
        environ: Where `XDG_CACHE_HOME` is read.

    Yields:
        The `time.monotonic()` by which the turn should end: the manifest's start timeout from now.

    Raises:
        PrizmError: UNAVAILABLE `SERVICE_FAILED` when the lock file cannot be made or opened.
    """
    if manifest.adapter.kind != "cog":
        yield time.monotonic() + manifest.health.start_timeout_s
        return
    fd = _open(lock_path(environ), manifest.name)
    try:
        await _take(fd, progress)
        yield time.monotonic() + manifest.health.start_timeout_s
    finally:
        os.close(fd)  # which lets go of the lock


async def until_set_up(adapter: Provider, deadline: float, interval_s: float) -> bool:
    """Waits until a Cog server's `/health-check` leaves STARTING, or until `deadline`.

    Args:
        adapter: The container's adapter; any but a `CogProvider` has nothing to wait for.
        deadline: A `time.monotonic()` after which it waits no longer.
        interval_s: How often it asks.

    Returns:
        False when the server was still STARTING at the deadline; else True (it left STARTING, or
        it no longer answers: either way its worker's sockets are closed).
    """
    if not isinstance(adapter, CogProvider):
        return True
    while True:
        try:
            status = (await adapter.client.health()).get("status")
        except PrizmError:
            return True
        if status != "STARTING":
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval_s)
