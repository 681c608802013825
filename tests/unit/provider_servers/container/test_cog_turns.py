"""Cog containers start one at a time: the host's lock file, and the wait for a Cog setup to end."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest

from prizm_core.services.manifest import ServiceManifest, load_manifest
from provider_servers.cog.provider import CogProvider
from provider_servers.container.cog_turns import cog_turn, lock_path, until_set_up
from provider_servers.http_api.provider import CONFIG_ENV, HttpApiProvider
from provider_servers.sdk import PrizmError

ROOT = Path(__file__).resolve().parents[4]
COG = ROOT / "tests" / "fixtures" / "cog-services" / "tone" / "prizm.service.yml"
HTTP = ROOT / "provider_servers" / "container" / "example" / "prizm.service.yml"


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def cog() -> ServiceManifest:
    return load_manifest(COG)


async def test_a_second_cog_turn_waits_for_the_first(cog: ServiceManifest, environ: dict[str, str]) -> None:
    order: list[str] = []
    told: list[str] = []

    async def second() -> None:
        async with cog_turn(cog, told.append, environ):
            order.append("second in")

    async with cog_turn(cog, told.append, environ) as deadline:
        assert deadline - time.monotonic() == pytest.approx(cog.health.start_timeout_s, abs=1.0)
        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.5)
        assert order == [] and not waiting.done()
        assert any("waiting for another Cog service" in line for line in told), told
        order.append("first out")
    await asyncio.wait_for(waiting, 2.0)
    assert order == ["first out", "second in"]
    assert lock_path(environ) == Path(environ["XDG_CACHE_HOME"]) / "prizm" / "locks" / "cog-start.lock"


async def test_another_process_holding_the_turn_is_waited_for_until_it_ends(
    cog: ServiceManifest, environ: dict[str, str]
) -> None:
    path = lock_path(environ)
    path.parent.mkdir(parents=True)
    script = (
        "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX);"
        " print('held', flush=True); time.sleep(1.0)"
    )
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(path), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and await holder.stdout.readline() == b"held\n"
        started = time.monotonic()
        async with cog_turn(cog, lambda _: None, environ):
            # Only once its process ended did the kernel let go of its lock.
            assert time.monotonic() - started >= 0.8
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.wait()


async def test_a_service_without_cog_takes_no_turn(environ: dict[str, str]) -> None:
    manifest = load_manifest(HTTP)
    assert manifest.adapter.kind == "http"
    async with cog_turn(manifest, lambda _: None, environ), cog_turn(manifest, lambda _: None, environ):
        assert not lock_path(environ).exists()


async def test_a_cancelled_wait_leaves_the_turn_to_others(
    cog: ServiceManifest, environ: dict[str, str]
) -> None:
    async with cog_turn(cog, lambda _: None, environ):

        async def wait() -> None:
            async with cog_turn(cog, lambda _: None, environ):
                pytest.fail("took a turn that another held")

        waiting = asyncio.create_task(wait())
        await asyncio.sleep(0.3)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    async with asyncio.timeout(2.0), cog_turn(cog, lambda _: None, environ):
        pass


async def test_a_lock_file_that_cannot_be_made_is_a_service_failure(
    cog: ServiceManifest, tmp_path: Path
) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    with pytest.raises(PrizmError) as raised:
        async with cog_turn(cog, lambda _: None, {"XDG_CACHE_HOME": str(tmp_path / "cache")}):
            pytest.fail("took a turn without a lock")
    assert (raised.value.code, raised.value.reason) == (grpc.StatusCode.UNAVAILABLE, "SERVICE_FAILED")
    assert "cog-start.lock" in raised.value.message
    assert raised.value.metadata == {"service": "cog-tone"}


class _Statuses(BaseHTTPRequestHandler):
    """Answers `/health-check` with the server's statuses in turn, the last one for ever."""

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _CogHealth)
        status = server.statuses.pop(0) if len(server.statuses) > 1 else server.statuses[0]
        body = json.dumps({"status": status, "setup": {"logs": ""}}).encode()
        server.asked += 1  # before the answer: the client may look as soon as it has it
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what was asked from the server."""


class _CogHealth(ThreadingHTTPServer):
    def __init__(self, statuses: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Statuses)
        self.statuses = statuses
        self.asked = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def cog_server(request: pytest.FixtureRequest) -> Iterator[_CogHealth]:
    server = _CogHealth(list(request.param))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("cog_server", [["STARTING", "STARTING", "STARTING", "READY"]], indirect=True)
async def test_until_set_up_waits_while_the_cog_server_is_starting(cog_server: _CogHealth) -> None:
    adapter = CogProvider(cog_server.url)
    try:
        assert await until_set_up(adapter, time.monotonic() + 10, 0.05) is True
    finally:
        await adapter.close()
    assert cog_server.asked == 4


@pytest.mark.parametrize("cog_server", [["STARTING"]], indirect=True)
async def test_until_set_up_gives_up_at_the_deadline(cog_server: _CogHealth) -> None:
    adapter = CogProvider(cog_server.url)
    started = time.monotonic()
    try:
        assert await until_set_up(adapter, started + 0.5, 0.05) is False
    finally:
        await adapter.close()
    assert 0.5 <= time.monotonic() - started < 2.0
    assert cog_server.asked >= 5


@pytest.mark.parametrize("cog_server", [["SETUP_FAILED"]], indirect=True)
async def test_a_failed_setup_ends_the_wait_too(cog_server: _CogHealth) -> None:
    adapter = CogProvider(cog_server.url)
    try:
        assert await until_set_up(adapter, time.monotonic() + 10, 0.05) is True
    finally:
        await adapter.close()
    assert cog_server.asked == 1


async def test_other_adapters_have_no_setup_to_wait_for() -> None:
    adapter = HttpApiProvider.from_environment({CONFIG_ENV: str(HTTP.parent / "http_api.yaml")})
    assert await until_set_up(adapter, time.monotonic() - 1, 0.05) is True
