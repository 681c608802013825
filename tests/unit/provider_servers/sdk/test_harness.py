"""`run_provider`: serves any provider class from its command line, or refuses with the reason."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence

import pytest

from prizm_core.serving import EXIT_UNAVAILABLE
from provider_servers.sdk import Event, Job, ModelSpec, Provider, ProviderKind, run_provider


class _Unrunnable(Provider):
    id = "unrunnable"
    display_name = "Unrunnable"
    kind = ProviderKind.LOCAL
    built = False

    def __init__(self) -> None:
        type(self).built = True

    @classmethod
    def missing(cls) -> list[str]:
        return ["frobnicate (apt-get install frobnicate)"]

    def models(self) -> Sequence[ModelSpec]:
        return []

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        raise AssertionError("never runs")
        yield


def test_a_provider_that_cannot_run_here_exits_78_with_the_hint(capfd: pytest.CaptureFixture[str]) -> None:
    assert run_provider(_Unrunnable, ["--port", "0"]) == EXIT_UNAVAILABLE
    hint = "provider unrunnable cannot run here: frobnicate (apt-get install frobnicate)"
    assert hint in capfd.readouterr().err
    assert not _Unrunnable.built, "it was built although it cannot run"


def test_without_argv_it_reads_the_process_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["python -m unrunnable", "--help"])
    with pytest.raises(SystemExit) as done:
        run_provider(_Unrunnable)
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("usage: prizm serve-provider unrunnable")
