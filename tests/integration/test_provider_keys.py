"""A provider that needs a key starts only when its variable is set (in the environment or the
sidecar's `env`), `prizm providers` and `prizm models` name the variable of one that did not, and
one whose key the vendor refuses is named in the ready line at once."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import threading
from pathlib import Path

from aiohttp import web

from provider_servers.remote import FakeVendor
from tests.integration.test_cli import prizm
from tests.support.processes import children, up_command

ABSENT = "PRIZM_TEST_ABSENT_KEY"
PRESENT = "PRIZM_TEST_PRESENT_KEY"
TIMEOUT_S = 60.0


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            found.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return found


def test_a_sidecar_without_its_key_is_not_started_and_the_listings_name_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "up.yaml"
    sidecars = [
        # Its variable comes from the config's `env`, which its process gets too.
        {"provider": "synthetic", "requires_env": PRESENT, "env": {PRESENT: "sk-CANARY-present"}},
        {"provider": "openai", "priority": -10, "requires_env": ABSENT},
    ]
    config.write_text(json.dumps({"sidecars": sidecars}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in (ABSENT, PRESENT)}
    command = up_command(config)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, start_new_session=True
    )
    try:
        lines = _lines(process)
        address = json.loads(lines.get(timeout=TIMEOUT_S))["address"]
        # The line is what it was before remote providers existed: the one not started is not in it.
        assert lines.get(timeout=TIMEOUT_S) == f"ready: synthetic on {address}"
        (child,) = children(process.pid, running="serve-provider")
        assert "synthetic" in Path(f"/proc/{child}/cmdline").read_text()
        assert f"{PRESENT}=sk-CANARY-present".encode() in Path(f"/proc/{child}/environ").read_bytes().split(
            b"\0"
        )
        providers = prizm("providers", router=address)
        assert providers.returncode == 0, providers.stderr
        assert providers.stdout.splitlines()[-1] == f"not started: openai (set {ABSENT})"
        models = prizm("models", router=address)
        assert models.returncode == 0, models.stderr
        assert models.stdout.splitlines()[-1] == f"not started: openai (set {ABSENT})"
        listed = json.loads(prizm("providers", "--json", router=address).stdout)
        assert [endpoint["provider"]["id"] for endpoint in listed] == ["synthetic"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


# A remote provider installed out of tree (a distribution's metadata on the path), pointed at a fake
# vendor that refuses every key.
ACME_ENTRY_POINTS = """
[prizm.providers]
acme = acme_provider:AcmeProvider
"""
ACME = """
from provider_servers.remote import RemoteProvider, Vendor
from provider_servers.sdk import Capability, ModelSpec


class AcmeProvider(RemoteProvider):
    id, display_name = "acme", "Acme"
    vendor = Vendor("acme", "ACME_API_KEY", "ACME_BASE_URL", "https://api.acme.invalid/v1")
    health_path = "/models"

    def models(self):
        return [ModelSpec("acme-1", "Acme 1", "A hosted model.", (Capability.TEXT_TO_TEXT,))]

    async def transform(self, job):
        raise AssertionError("never reached: the key is refused")
        yield
"""


class Refusing(FakeVendor):
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self.models)

    async def models(self, request: web.Request) -> web.Response:
        # Slow, so that the router watches the provider before its first check has failed: the
        # provider then stays NOT_SERVING, and only its status says it gave up.
        await asyncio.sleep(1.5)
        return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=401)


def test_a_remote_sidecar_whose_key_is_refused_is_named_in_the_ready_line_at_once(tmp_path: Path) -> None:
    info = tmp_path / "acme-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ACME_ENTRY_POINTS)
    (tmp_path / "acme_provider.py").write_text(ACME)
    with Refusing() as fake:
        sidecar = {
            "provider": "acme",
            "requires_env": "ACME_API_KEY",
            "env": {"ACME_BASE_URL": f"{fake.url}/v1"},
        }
        config = tmp_path / "up.yaml"
        config.write_text(json.dumps({"sidecars": [sidecar], "startup_wait_s": 600}), encoding="utf-8")
        env = {**os.environ, "ACME_API_KEY": "sk-CANARY-refused0000", "PYTHONPATH": str(tmp_path)}
        command = up_command(config)
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,
        )
        try:
            lines = _lines(process)
            address = json.loads(lines.get(timeout=TIMEOUT_S))["address"]
            # Long before the 600 s a warming sidecar may take: it said why it cannot serve.
            ready = lines.get(timeout=TIMEOUT_S)
            providers = prizm("providers", router=address).stdout
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    refused = "UPSTREAM_AUTH_FAILED: acme refused the key (HTTP 401)"
    assert ready.startswith(f"ready: no providers on {address}; not serving acme ({refused}"), ready
    assert "Incorrect API key provided" in ready and "sk-CANARY" not in ready + providers
    assert "acme: health: NOT_SERVING: UPSTREAM_AUTH_FAILED" in providers
    assert [(c.method, c.path) for c in fake.calls] and {c.path for c in fake.calls} == {"/v1/models"}
