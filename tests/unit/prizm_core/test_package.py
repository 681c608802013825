"""`import prizm_core` stays light, and the CLI turns gRPC's fork handlers off before grpc loads."""

from __future__ import annotations

import subprocess
import sys

_SPY = """
import os, sys
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "grpc":
            print("grpc loaded with GRPC_ENABLE_FORK_SUPPORT =", os.environ.get("GRPC_ENABLE_FORK_SUPPORT"))
            sys.meta_path.remove(self)
        return None
sys.meta_path.insert(0, Spy())
"""


def _run(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", _SPY + code], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def test_importing_the_package_loads_no_grpc() -> None:
    assert _run("import prizm_core; print(prizm_core.__version__)").count("grpc loaded") == 0


def test_the_cli_disables_fork_support_before_grpc_loads() -> None:
    # With gRPC's fork handlers on, programs a provider spawns (ffmpeg, espeak-ng) can abort.
    # Any command module: each loads grpc (the package itself loads none, see main._COMMANDS).
    assert "grpc loaded with GRPC_ENABLE_FORK_SUPPORT = false" in _run("import prizm_core.cli.serve")


def test_the_documented_imports_work() -> None:
    out = _run("from prizm_core import PrizmClient, PrizmError, SyncPrizmClient; print(PrizmError.__name__)")
    assert out.strip().endswith("PrizmError")
