"""The contract plugin on providers that declare no cases, or wrong ones, and on a wrong option."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Two providers installed (a distribution's metadata on the path) with no usable contract cases: one
# declares none, the other names a module that does not exist.
ENTRY_POINTS = """
[prizm.providers]
nocases = provider_servers.synthetic.provider:SyntheticProvider
broken = provider_servers.synthetic.provider:SyntheticProvider

leaky = leaky_provider:LeakyProvider
envy = envy_provider:EnvyProvider

[prizm.contract]
broken = no_such_module.contract:cases
leaky = leaky_provider:cases
envy = envy_provider:cases
"""
# A provider that starts a process for each job and leaves it running when the job is cancelled.
LEAKY = """
import asyncio

from provider_servers.contract import Case, text_input
from provider_servers.sdk import Capability, MediaKind, ModelSpec, Output, Progress, Provider, ProviderKind

MODEL = ModelSpec(
    id="leaky-v1",
    display_name="Leaky",
    description="Leaves a process behind.",
    capabilities=(Capability.TEXT_TO_TEXT,),
    output_mime_type="text/plain",
)


class LeakyProvider(Provider):
    id, display_name, kind = "leaky", "Leaky", ProviderKind.LOCAL
    description = "Starts a process per job and never stops it."

    def __init__(self):
        self.leaked = []  # held, so that asyncio does not kill them when it collects them

    def models(self):
        return [MODEL]

    async def transform(self, job):
        self.leaked.append(await asyncio.create_subprocess_exec("sleep", "20"))
        for step in range(1, 101):
            yield Progress(fraction=step / 100)
            await asyncio.sleep(0.05)
        yield Output(kind=MediaKind.TEXT, mime_type="text/plain", data=b"done")


def cases():
    sample = lambda: text_input("x")
    return [Case(Capability.TEXT_TO_TEXT, sample=sample, check=lambda data: None, long_input=sample)]
"""

# A provider that answers with a variable of its environment, which only its cases' `environment()`
# sets; leaving the environment writes a file, so the test sees that it was left.
ENVY = """
import contextlib
import os
from pathlib import Path

from provider_servers.contract import Case, text_input
from provider_servers.sdk import Capability, MediaKind, ModelSpec, Output, Provider, ProviderKind

MODEL = ModelSpec(
    id="envy-v1",
    display_name="Envy",
    description="Says its word.",
    capabilities=(Capability.TEXT_TO_TEXT,),
    output_mime_type="text/plain",
)


class EnvyProvider(Provider):
    id, display_name, kind = "envy", "Envy", ProviderKind.REMOTE

    def __init__(self, word=""):
        self.word = word

    @classmethod
    def from_environment(cls, environ):
        return cls(environ.get("ENVY_WORD", "unset"))

    def models(self):
        return [MODEL]

    async def transform(self, job):
        yield Output(kind=MediaKind.TEXT, mime_type="text/plain", data=self.word.encode())


@contextlib.contextmanager
def environment():
    yield {"ENVY_WORD": "canary-" + str(os.getpid())}
    Path("left").write_text("left")


def check(data):
    assert data.decode().startswith("canary-"), data


def cases():
    sample = lambda: text_input("x")
    return [Case(Capability.TEXT_TO_TEXT, sample=sample, check=check, long_input=sample)]
"""


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A folder holding the metadata of a distribution with the entry points above."""
    info = tmp_path / "fake_providers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-providers\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (tmp_path / "leaky_provider.py").write_text(LEAKY)
    (tmp_path / "envy_provider.py").write_text(ENVY)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return tmp_path


def _suite(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The suite run as an out-of-tree package runs it, with `folder` on the path."""
    command = [
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
        *("-c", str(folder / "pytest.ini"), "--rootdir", str(folder)),
        *("-p", "provider_servers.contract.plugin", "--pyargs", "provider_servers.contract.suite"),
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_provider_without_cases_fails_and_says_how_to_declare_them(installed: Path) -> None:
    done = _suite(installed, "--prizm-provider", "nocases", "--prizm-provider", "broken")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 failed" in done.stdout and "passed" not in done.stdout, done.stdout
    assert "provider 'nocases' declares no contract cases" in done.stdout
    assert "nocases = \"your_package.contract:cases\" to the group 'prizm.contract'" in done.stdout
    assert "the contract cases of 'broken' (no_such_module.contract:cases) cannot load" in done.stdout


def test_a_cancel_that_leaves_a_process_of_the_job_running_fails(installed: Path) -> None:
    done = _suite(installed, "--prizm-provider", "leaky", "-k", "cancel or transforms")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout, done.stdout
    assert "processes the job started are still running after the cancel" in done.stdout, done.stdout


def test_an_unknown_provider_is_a_usage_error_naming_the_installed_ones(installed: Path) -> None:
    done = _suite(installed, "--prizm-provider", "no-such")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "--prizm-provider no-such: not installed" in done.stderr
    assert "broken" in done.stderr and "synthetic" in done.stderr


def test_a_cases_module_environment_reaches_the_provider_server_and_is_left(installed: Path) -> None:
    assert "ENVY_WORD" not in os.environ
    done = _suite(installed, "--prizm-provider", "envy", "-k", "transforms")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout
    assert (installed / "left").read_text() == "left"
