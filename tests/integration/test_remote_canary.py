"""The canary-key sweep: every remote provider installed runs with canary keys (`sk-CANARY-…`), the
one its contract `environment()` sets and one given through `Configure`, and no key shows in any
log line, error message, status detail or CLI output (`prizm providers`, `prizm models`, `prizm
run` working and failing) or `/metrics` of the provider and the router."""

from __future__ import annotations

import mimetypes
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from provider_servers.contract.discovery import load_cases, load_environment
from provider_servers.contract.polling import wait_until
from provider_servers.remote import RemoteProvider
from provider_servers.sdk import MediaKind
from tests.support.control import configure, status
from tests.support.mesh import wait_routable
from tests.support.metrics import free_port, metrics_text
from tests.support.processes import start_provider
from tests.support.remote import canary_key, prioritized_router

pytestmark = pytest.mark.timeout(240)


def _remote_providers() -> list[str]:
    """The installed providers that are remote ones (new vendors join by their entry point)."""
    found = []
    for point in entry_points(group="prizm.providers"):
        try:
            provider = point.load()
        except Exception:  # noqa: S112 - a provider whose extra is not installed is not in the sweep
            continue
        if isinstance(provider, type) and issubclass(provider, RemoteProvider):
            found.append(point.name)
    return sorted(found)


def _cli(router: str, *args: str, cwd: Path) -> str:
    """What `prizm --router ROUTER ARGS` prints, stdout and stderr together, run in `cwd` (where a
    job's outputs are written)."""
    done = subprocess.run(
        [sys.executable, "-m", "prizm_core.cli", "--router", router, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return f"$ prizm {' '.join(args)} (exit {done.returncode})\n{done.stdout}{done.stderr}"


def _extension(mime_type: str) -> str:
    """A file extension for `mime_type`, so that the CLI can tell the input's type."""
    found = mimetypes.guess_extension(mime_type) or mimetypes.guess_extension(mime_type.replace("/", "/x-"))
    return found or ".bin"


def _job_args(name: str, folder: Path) -> list[str]:
    """`prizm run` arguments for the provider's first contract case with a text input (else its first)."""
    cases = load_cases(name)
    case = next((c for c in cases if c.sample().kind == MediaKind.TEXT), cases[0])
    sample = case.sample()
    capability = case.capability.name.lower().replace("_", "-")
    if sample.kind == MediaKind.TEXT:
        source = sample.text()
    else:
        source = str(
            folder / f"input{mimetypes.guess_extension(sample.mime_type.replace('/', '/x-')) or '.bin'}"
        )
        Path(source).write_bytes(sample.read())
    options = [f"--option={key}={value}" for key, value in case.options.items()]
    return ["run", capability, source, "--provider", name, "--model", case.model, *options, "--json"]


def test_the_sweep_covers_elevenlabs() -> None:
    assert "elevenlabs" in _remote_providers()


@pytest.mark.parametrize("name", _remote_providers())
async def test_no_canary_key_shows_anywhere(name: str, tmp_path: Path) -> None:
    environment = load_environment(name)
    assert environment is not None, f"{name}'s contract cases define no environment() with a fake vendor"
    with environment() as variables:
        canaries = [value for value in variables.values() if "CANARY-" in value]
        assert canaries, f"{name}'s contract environment() sets no canary key (sk-CANARY-...)"
        provider_metrics, router_metrics = free_port(), free_port()
        provider = start_provider(name, "--metrics-port", str(provider_metrics), env=variables)
        try:
            metrics = f"{{port: {router_metrics}}}"
            with prioritized_router(tmp_path, (provider.address, 0), metrics=metrics) as router:
                await wait_routable(router.address, 1)
                job = _job_args(name, tmp_path)
                said = [
                    _cli(router.address, "providers", cwd=tmp_path),
                    _cli(router.address, "models", cwd=tmp_path),
                ]
                said.append(_cli(router.address, *job, cwd=tmp_path))
                assert "(exit 0)" in said[-1], said[-1]
                # A key the vendor refuses, given at runtime: the provider says why without it, and
                # jobs fail.
                refused = canary_key()
                canaries.append(refused)
                await configure(provider.address, api_key=refused)

                async def refused_key() -> bool:
                    return "UPSTREAM_AUTH_FAILED" in (await status(provider.address)).detail

                await wait_until(refused_key, timeout=30)
                said.append((await status(provider.address)).detail)
                said.append(_cli(router.address, *job, cwd=tmp_path))
                assert "(exit 1)" in said[-1], said[-1]
                said += [
                    _cli(router.address, "providers", cwd=tmp_path),
                    _cli(router.address, "models", "--json", cwd=tmp_path),
                ]
                # The metrics of both, after jobs that worked and failed.
                said += [metrics_text(provider_metrics), metrics_text(router_metrics)]
                assert "prizm_provider_jobs_total{" in said[-2] and "prizm_jobs_total{" in said[-1]
            router_log = router.log_text()
        finally:
            provider.stop()
        everything = "\n".join([*said, router_log, provider.log_text()])
    assert len(everything) > 1000, everything  # the sweep did look at something
    leaked = [canary for canary in canaries if canary in everything]
    assert leaked == [], f"{name} leaked {len(leaked)} key(s)"
