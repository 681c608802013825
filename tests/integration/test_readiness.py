"""`prizm up` is ready when it says so: sidecars listed by name while starting, one ready line once
all are serving or skipped, and a job sent at once goes where it would go a minute later."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from tests.support.control import status
from tests.support.processes import up_command

TEXT = "Ready when it says so."
START_TIMEOUT_S = 60.0


class _Up:
    """`prizm up` as a process, its stdout lines kept as they come."""

    def __init__(self, config: Path) -> None:
        command = up_command(config)
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(raw.decode().rstrip("\n"))

    def next_line(self, timeout: float) -> str:
        line = self.lines.get(timeout=timeout)
        self.seen.append(line)
        return line

    def stop(self) -> list[str]:
        """Stops it and returns every stdout line it wrote."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(30)
        time.sleep(0.1)  # the pump reads what is left
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return self.seen


@pytest.fixture
def up(tmp_path: Path) -> Iterator[_Up]:
    """Piper (neural, slow to warm, preferred) over espeak (fast), and a provider not installed."""
    config = tmp_path / "up.yaml"
    sidecars = [{"provider": "piper", "priority": 10}, {"provider": "espeak"}, {"provider": "nope"}]
    config.write_text(json.dumps({"sidecars": sidecars}), encoding="utf-8")
    process = _Up(config)
    try:
        yield process
    finally:
        process.stop()


def _listed_names(router: str) -> set[str]:
    """Provider names as `prizm providers --json` shows them."""
    command = [sys.executable, "-m", "prizm_core.cli", "providers", "--router", router, "--json"]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=30).stdout
    return {str(endpoint["provider"]["id"]) for endpoint in json.loads(output)}


async def _finished(addresses: dict[str, str]) -> dict[str, int]:
    return {name: int((await status(address)).finished_jobs) for name, address in addresses.items()}


async def test_a_job_sent_at_once_goes_where_it_would_go_a_minute_later(up: _Up) -> None:
    listening = json.loads(up.next_line(START_TIMEOUT_S))
    address = listening["address"]
    async with PrizmClient(address) as client:
        # Straight after start: the sidecars are listed by name; piper is nowhere near warm.
        starting = {e.provider.id: e for e in await client.list_providers()}
        assert {"piper", "espeak"} <= set(starting)
        assert starting["piper"].state != router_pb.ENDPOINT_STATE_SERVING
        assert up.lines.empty(), "no ready line before the sidecars are up"
        first = asyncio.create_task(client.run("text-to-audio", TEXT, timeout=120))
        assert {"piper", "espeak"} <= await asyncio.to_thread(_listed_names, address)
        first_result = await first
        ready = up.next_line(START_TIMEOUT_S)
        assert ready == f"ready: piper, espeak on {address}; skipped nope (no provider 'nope' installed)"
        endpoints = {e.provider.id: e for e in await client.list_providers()}
        assert [endpoints[name].state for name in ("piper", "espeak")] == [
            router_pb.ENDPOINT_STATE_SERVING
        ] * 2
        addresses = {name: endpoints[name].address for name in ("piper", "espeak")}
        assert await _finished(addresses) == {"piper": 1, "espeak": 0}
        later = await client.run("text-to-audio", TEXT, timeout=120)
        assert await _finished(addresses) == {"piper": 2, "espeak": 0}
    speech = first_result.outputs[0].data
    assert speech is not None and speech == later.outputs[0].data
    assert len(speech) > 10_000  # a second of speech or more, not an empty file
    lines = up.stop()
    assert [line for line in lines if line.startswith("ready")] == [ready]
