"""The TypeScript client (clients/typescript/) and a grpc-js client against a live router, from Node."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prizm.v1 import error_reason_pb2 as reason_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core import PrizmClient
from prizm_core.client import Progress
from prizm_core.security.callers import hash_key, new_key
from provider_servers.contract.polling import wait_until
from provider_servers.synthetic.provider import synthetic_output
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess, start_provider, start_router, synthetic_mesh, write_config

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
TSC = ROOT / "node_modules" / ".bin" / "tsc"
TEXT = "hello from node"
# Three output chunks of 1 MiB at most: the clients must put them back together in order.
OPTIONS = {"events": 3, "output_bytes": 2_500_000}


def _node_major() -> int:
    node = shutil.which("node")
    if node is None:
        return 0
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    return int(version.strip().lstrip("v").split(".")[0])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """clients/typescript compiled with tsc into a temporary folder, so the tree stays clean."""
    if _node_major() < 20:
        pytest.skip("the TypeScript client needs Node.js 20 or newer (`make setup` installs the tooling)")
    if not TSC.exists():
        pytest.fail("node_modules/.bin/tsc is missing: run `make setup` (npm ci)")
    out = tmp_path_factory.mktemp("typescript")
    # ESM resolves packages from the importing file's folders upward, and needs "type": "module".
    (out / "node_modules").symlink_to(ROOT / "node_modules")
    (out / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    compiled = subprocess.run(
        [str(TSC), "-p", str(CLIENT), "--outDir", str(out / "dist")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return out / "dist"


def test_the_typescript_clients_offline_tests_pass(built: Path) -> None:
    # Reassembly (order, restarts, corruption), capability names and error decoding, in node:test.
    tests = sorted(str(path) for path in (built / "test").glob("*.test.js"))
    assert tests, "no compiled tests under clients/typescript/test"
    node = shutil.which("node") or "node"
    ran = subprocess.run([node, "--test", *tests], capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.search(r"^# pass [1-9]", ran.stdout, re.MULTILINE) and "# fail 0" in ran.stdout, ran.stdout


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A router in front of one synthetic provider, one job at a time per caller."""
    config = tmp_path_factory.mktemp("typescript-mesh") / "router.yaml"
    with synthetic_mesh(config, 1, max_jobs_per_caller=1) as (server, _providers):
        yield server


def _scripts(built: Path) -> dict[str, list[str]]:
    """Each Node client's command line, before its arguments."""
    node = shutil.which("node") or "node"
    return {
        "typescript": [node, str(built / "examples" / "stream_and_save.js")],
        "grpc-js": [node, str(CLIENT / "examples" / "grpc_js.mjs")],
    }


async def _node(
    command: list[str], *args: str, caller: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRIZM_CALLER": caller, **(env or {})}
    return await asyncio.to_thread(
        subprocess.run, [*command, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


@pytest.mark.parametrize("client", ["typescript", "grpc-js"])
async def test_a_node_client_streams_progress_and_saves_the_whole_output(
    client: str, built: Path, router: ServerProcess, tmp_path: Path
) -> None:
    await wait_routable(router.address, 1)
    saved = tmp_path / "out.txt"
    ran = await _node(
        _scripts(built)[client], router.address, "text-to-text", TEXT, str(saved), json.dumps(OPTIONS)
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    progress = [line for line in ran.stdout.splitlines() if line.startswith("progress")]
    assert len(progress) >= OPTIONS["events"], ran.stdout
    assert any(re.match(r"progress \d+%", line) for line in progress), ran.stdout
    expected = synthetic_output(TEXT.encode(), OPTIONS["output_bytes"])
    assert saved.read_bytes() == expected
    assert f"saved {len(expected)} bytes" in ran.stdout
    if client == "typescript":  # the typed client checks and prints the hash too
        assert hashlib.sha256(expected).hexdigest() in ran.stdout


@pytest.mark.parametrize("client", ["typescript", "grpc-js"])
async def test_a_node_client_decodes_the_reason_and_field_of_a_bad_option(
    client: str, built: Path, router: ServerProcess, tmp_path: Path
) -> None:
    await wait_routable(router.address, 1)
    options = json.dumps({"events": -1})
    ran = await _node(
        _scripts(built)[client], router.address, "text-to-text", TEXT, str(tmp_path / "x"), options
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    (line,) = [line for line in ran.stderr.splitlines() if line.startswith("error ")]
    assert line.startswith("error INVALID_OPTIONS"), ran.stderr
    assert "options.events" in line and "retry after" not in line, line
    if client == "typescript":  # the reason as the generated enum: the same number as Python's
        assert f"[ErrorReason {reason_pb.ERROR_REASON_INVALID_OPTIONS}]" in line, line
    assert not (tmp_path / "x").exists()


async def test_node_clients_decode_the_retry_delay_of_a_refusal(built: Path, router: ServerProcess) -> None:
    # One job per caller: while "holder" runs one, its next is refused RESOURCE_EXHAUSTED
    # CALLER_CONCURRENCY_EXCEEDED with RetryInfo (0.5 s).
    await wait_routable(router.address, 1)
    scripts = _scripts(built)
    async with PrizmClient(router.address, caller="holder") as python:
        running = python.stream("text-to-text", "first", options={"events": 60, "interval_ms": 100})
        assert isinstance(await anext(running), Progress)  # the slot is taken
        refused = await asyncio.gather(
            *(
                _node(scripts[c], router.address, "text-to-text", TEXT, "/dev/null", caller="holder")
                for c in scripts
            )
        )
        await running.aclose()
    for ran in refused:
        assert ran.returncode == 1, ran.stdout + ran.stderr
        expected = (
            f"[ErrorReason {reason_pb.ERROR_REASON_CALLER_CONCURRENCY_EXCEEDED}] "
            if ran is refused[0]
            else ""
        )
        assert f"error CALLER_CONCURRENCY_EXCEEDED {expected}retry after 500 ms" in ran.stderr, ran.stderr


async def test_the_typescript_client_sends_its_api_key_to_a_router_with_auth(
    built: Path, tmp_path: Path
) -> None:
    key = new_key()
    auth = {"api_keys": [{"caller": "node", "sha256": hash_key(key)}], "callers": {"node": {}}}
    provider = start_provider("synthetic")
    router = start_router(write_config(tmp_path / "router.yaml", [provider.address], auth=auth))
    try:
        async with PrizmClient(router.address, api_key=key) as python:
            await wait_until(lambda: _serving(python), 30, interval=0.05)
        command = _scripts(built)["typescript"]
        args = (router.address, "text-to-text", TEXT, str(tmp_path / "out.txt"), json.dumps({"events": 1}))
        without = await _node(command, *args)
        assert without.returncode == 1 and "error CREDENTIALS_MISSING" in without.stderr, without.stderr
        ran = await _node(command, *args, env={"PRIZM_API_KEY": key})
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert (tmp_path / "out.txt").read_bytes() == synthetic_output(TEXT.encode(), 1024)
        assert key not in router.log_text()
    finally:
        router.stop()
        provider.stop()


async def _serving(client: PrizmClient) -> bool:
    return bool(await client.list_providers()) and all(
        e.state == router_pb.ENDPOINT_STATE_SERVING for e in await client.list_providers()
    )
