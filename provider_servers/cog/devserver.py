"""A real Cog server for a predictor folder, without a container: for the contract suite and tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PREDICTORS", "CogServer", "cog_server"]

START_TIMEOUT_S = 60.0
# The test predictors live with the tests of a source checkout (the suites run from one).
PREDICTORS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "cog"


@dataclass(frozen=True)
class CogServer:
    """A running Cog server.

    Attributes:
        url: Its base URL, `http://127.0.0.1:<port>`.
        process: The server process, leader of its own process group (it forks a worker).
    """

    url: str
    process: subprocess.Popen[bytes]

    def health(self) -> dict[str, object]:
        """Its `/health-check` body."""
        with urllib.request.urlopen(f"{self.url}/health-check", timeout=5) as response:  # noqa: S310 - loopback
            body: dict[str, object] = json.loads(response.read())
        return body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(server: CogServer, log: Path) -> None:
    """Waits until setup has ended (any status but STARTING), or raises with the server's log."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            if server.health().get("status") != "STARTING":
                return
        time.sleep(0.1)
    raise RuntimeError(f"the Cog server in {log.parent} did not start:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def cog_server(
    predictor_dir: Path, predictor: str = "predict.py:Predictor", env: Mapping[str, str] | None = None
) -> Iterator[CogServer]:
    """`python -m cog.server.http` (cog's own, from this environment) for the predictor in
    `predictor_dir`, on a free loopback port, until its setup has ended; its process group is
    stopped on exit. Its output goes to a temporary log, shown when it fails to start."""
    port = _free_port()
    bin_dir = str(Path(sys.executable).parent)
    variables = {
        **os.environ,
        **(env or {}),
        "COG_PREDICT_TYPE_STUB": predictor,
        "PORT": str(port),
        # The worker it forks is `python` from PATH: this environment's, where cog is installed.
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="prizm-cog-")))
        log = folder / "cog-server.log"
        sink = stack.enter_context(log.open("wb"))
        process = subprocess.Popen(
            [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"],
            cwd=predictor_dir,
            env=variables,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = CogServer(f"http://127.0.0.1:{port}", process)
        try:
            _wait_ready(server, log)
            yield server
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL after ten seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
