"""The benchmarked processes: providers and routers (started as the tests start them), and their cost."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from tests.support.processes import (
    ServerProcess,
    cpu_seconds,
    start_provider,
    start_router,
    start_server,
    write_config,
)

__all__ = [
    "PeakRss",
    "ServerProcess",
    "cpu_seconds",
    "rss_kib",
    "start_provider",
    "start_router",
    "start_server",
    "write_config",
]


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class PeakRss:
    """Samples a process's resident memory every 20 ms in a thread; `peak_kib` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline_kib = rss_kib(pid)
        self.peak_kib = self.baseline_kib
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        """Peak minus the memory before, in MiB."""
        return (self.peak_kib - self.baseline_kib) / 1024


def cores() -> int:
    """CPU cores of this machine."""
    return os.cpu_count() or 1
