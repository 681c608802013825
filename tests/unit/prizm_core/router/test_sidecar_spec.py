"""A sidecar's own interpreter (`SidecarSpec.python`) runs it, and its label names it."""

from __future__ import annotations

import asyncio
import stat
import sys
from pathlib import Path

import pytest

from prizm_core.config import SidecarSpec
from prizm_core.router.sidecars import Sidecar, SidecarManager


class _Hooks:
    """Records when the sidecar listens."""

    def __init__(self) -> None:
        self.listened = asyncio.Event()

    def placed(self, sidecar: Sidecar, previous: str) -> None:
        del sidecar, previous

    def listening(self, sidecar: Sidecar) -> None:
        del sidecar
        self.listened.set()

    def exited(self, sidecar: Sidecar) -> None:
        del sidecar


@pytest.mark.timeout(60)
async def test_a_sidecar_runs_under_the_interpreter_its_spec_names(tmp_path: Path) -> None:
    # A stand-in for another virtual environment's python: it notes its arguments, then runs ours.
    called = tmp_path / "called"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$@" > {called}\nexec {sys.executable} "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    spec = SidecarSpec(provider="synthetic", python=str(python), label="my-synthetic")
    hooks = _Hooks()
    manager = SidecarManager(hooks, grace_s=5.0)
    manager.start(spec)
    try:
        await asyncio.wait_for(hooks.listened.wait(), 30)
    finally:
        await manager.stop()
    (sidecar,) = manager.sidecars
    assert sidecar.name == "my-synthetic#0"
    assert called.read_text().startswith("-m prizm_core.cli serve-provider synthetic --host 127.0.0.1")


def test_without_a_label_a_sidecar_is_named_by_its_provider() -> None:
    assert Sidecar(spec=SidecarSpec(provider="piper"), replica=1).name == "piper#1"
    assert SidecarSpec(provider="piper", label="voice").shown_name == "voice"
