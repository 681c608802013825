"""`prizm health-probe` against a real provider server: exit 0 only when it answers SERVING."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from prizm_core.cli.main import main
from prizm_core.cli.probe import probe
from prizm_core.serving import ServeSettings
from provider_servers.sdk.harness import PROVIDER_SERVICE, ProviderSettings, serve
from provider_servers.synthetic.provider import SyntheticProvider


class HeldProvider(SyntheticProvider):
    """The synthetic provider, held in warm-up (so NOT_SERVING) until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = asyncio.Event()

    async def warm_up(self) -> None:
        await self.ready.wait()


def _free_port() -> int:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        return int(held.getsockname()[1])


async def _until_listening(address: str) -> None:
    for _ in range(200):
        if (await asyncio.to_thread(probe, address, "", 1.0)).line.startswith("NOT_SERVING"):
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"the provider never listened at {address}")


@pytest.fixture
async def held() -> AsyncIterator[tuple[HeldProvider, str]]:
    """A provider server (the SDK harness) that listens but is NOT_SERVING until `ready` is set."""
    provider = HeldProvider()
    settings = ProviderSettings(serve=ServeSettings(port=_free_port(), grace_s=0.5, notice_s=0.0))
    address = f"127.0.0.1:{settings.serve.port}"
    stop = asyncio.Event()
    served = asyncio.create_task(serve(provider, settings, stop))
    try:
        await _until_listening(address)
        yield provider, address
    finally:
        stop.set()
        await served


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = await asyncio.to_thread(main, ["health-probe", *argv])
    out, err = capsys.readouterr()
    return status, out, err


async def test_not_serving_then_serving_for_the_server_and_its_services(
    held: tuple[HeldProvider, str], capsys: pytest.CaptureFixture[str]
) -> None:
    provider, address = held
    assert await _cli(capsys, address) == (1, "", f"NOT_SERVING: the server at {address}\n")
    provider.ready.set()
    for _ in range(200):
        if (await asyncio.to_thread(probe, address)).serving:
            break
        await asyncio.sleep(0.02)
    assert await _cli(capsys, address) == (0, f"SERVING: the server at {address}\n", "")
    service = PROVIDER_SERVICE.full_name
    status, out, _ = await _cli(capsys, address, service, "--timeout", "2")
    assert (status, out) == (0, f"SERVING: service {service!r} at {address}\n")


async def test_an_unknown_service_fails_and_says_so(
    held: tuple[HeldProvider, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, address = held
    status, out, err = await _cli(capsys, address, "prizm.v1.NoSuchService")
    assert (status, out) == (1, "")
    assert err == f"unknown: {address} serves no service 'prizm.v1.NoSuchService' (NOT_FOUND)\n"


async def test_nothing_listening_fails_at_once_as_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    address = f"127.0.0.1:{_free_port()}"
    began = time.monotonic()
    assert await _cli(capsys, address, "--timeout", "5") == (
        1,
        "",
        f"unreachable: nothing answers at {address}\n",
    )
    assert time.monotonic() - began < 4, "a refused connection must not wait out the timeout"


def test_a_server_that_never_answers_is_a_timeout() -> None:
    # A listening socket that never speaks HTTP/2: the Check cannot complete.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        found = probe(address, timeout_s=0.5)
    assert found == found.__class__(False, f"timeout: no answer from {address} within 0.5s")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["nohost"], "not a host:port address: 'nohost'"),
        (["127.0.0.1:99999"], "not a host:port address: '127.0.0.1:99999'"),
        (["127.0.0.1:1", "--timeout", "0"], "must be a finite number of seconds above 0: '0'"),
        (["127.0.0.1:1", "--timeout", "soon"], "not a number of seconds: 'soon'"),
    ],
)
def test_bad_arguments_are_usage_errors(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["health-probe", *argv])
    assert exited.value.code == 2
    assert words in capsys.readouterr().err


def test_the_installed_command_exits_1_with_one_line_when_nothing_listens() -> None:
    address = f"127.0.0.1:{_free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "prizm_core.cli", "health-probe", address, "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [f"unreachable: nothing answers at {address}"]


def test_the_probe_loads_neither_the_router_nor_the_client_nor_the_config() -> None:
    """Docker runs it every few seconds in every container: it imports grpc and the health stubs."""
    script = (
        "import sys\n"
        "from prizm_core.cli.main import main\n"
        "code = main(['health-probe', '127.0.0.1:1', '--timeout', '0.2'])\n"
        "print(code, ' '.join(sorted(m for m in sys.modules if m.startswith('prizm_core'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    code, loaded = done.stdout.split(" ", 1)
    assert code == "1"  # nothing answers on port 1
    assert "prizm_core.cli.probe" in loaded.split()
    for heavy in ("prizm_core.router", "prizm_core.client", "prizm_core.config", "prizm_core.cli.serve"):
        assert heavy not in loaded.split(), loaded
