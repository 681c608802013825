"""Limits: overload is refused fast with RetryInfo, deadlines cut jobs short, big messages behave."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sys
import time
from pathlib import Path

import grpc
import pytest
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.assets import text_asset
from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from provider_servers.synthetic.provider import synthetic_output
from tests.support.control import status
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import synthetic_mesh

pytestmark = pytest.mark.faults

ONE_SECOND = {"events": 10, "interval_ms": 100}


async def _timed(client: PrizmClient, **options: object) -> tuple[float, object]:
    started = time.monotonic()
    try:
        result: object = await client.run("text-to-text", "load", options=options, timeout=30)  # type: ignore[arg-type]
    except PrizmError as exc:
        result = exc
    return time.monotonic() - started, result


async def test_overload_at_3x_capacity_is_refused_fast(tmp_config: Path, figures: dict[str, object]) -> None:
    with synthetic_mesh(tmp_config, 1, "--max-jobs", "4") as (router, (provider,)):
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address, max_attempts=1) as client:
            await client.list_providers()
            outcomes = await asyncio.gather(*(_timed(client, **ONE_SECOND) for _ in range(12)))
        provider_status = await status(provider.address)
    admitted = [(took, r) for took, r in outcomes if not isinstance(r, PrizmError)]
    refused = [(took, r) for took, r in outcomes if isinstance(r, PrizmError)]
    assert len(admitted) == 4 and len(refused) == 8
    for took, error in refused:
        assert isinstance(error, PrizmError)
        assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "PROVIDER_OVERLOADED")
        assert error.retry_after_s is not None
        assert took < 0.5
    assert all(1.0 <= took < 3.0 for took, _ in admitted)
    assert (provider_status.finished_jobs, provider_status.rejected_jobs) == (4, 8)
    figures["overload_3x_refused_p_max_ms"] = round(max(t for t, _ in refused) * 1000, 1)
    figures["overload_3x_admitted_s"] = round(max(t for t, _ in admitted), 2)


async def test_the_router_caps_jobs_in_flight_overall_and_per_caller(tmp_config: Path) -> None:
    with synthetic_mesh(tmp_config, 1, max_jobs=6, max_jobs_per_caller=2) as (router, _):
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address, max_attempts=1) as greedy:
            outcomes = await asyncio.gather(*(_timed(greedy, **ONE_SECOND) for _ in range(4)))
        reasons = sorted(r.reason if isinstance(r, PrizmError) else "ok" for _, r in outcomes)
        assert reasons == ["CALLER_CONCURRENCY_EXCEEDED", "CALLER_CONCURRENCY_EXCEEDED", "ok", "ok"]
        clients = [PrizmClient(router.address, caller=f"app-{i}", max_attempts=1) for i in range(4)]
        try:
            outcomes = await asyncio.gather(*(_timed(c, **ONE_SECOND) for c in clients for _ in range(2)))
        finally:
            for client in clients:
                await client.close()
        reasons = sorted(r.reason if isinstance(r, PrizmError) else "ok" for _, r in outcomes)
        assert reasons == ["ROUTER_OVERLOADED"] * 2 + ["ok"] * 6
        assert all(r.retry_after_s for _, r in outcomes if isinstance(r, PrizmError))


async def test_a_deadline_mid_stream_ends_the_call_and_the_providers_job(
    tmp_config: Path, figures: dict[str, object]
) -> None:
    with synthetic_mesh(tmp_config, 1) as (router, (provider,)):
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            await client.list_providers()
            started = time.monotonic()
            with pytest.raises(PrizmError) as failure:
                await client.run(
                    "text-to-text", "slow", options={"events": 100, "interval_ms": 100}, timeout=1.0
                )
            ended = time.monotonic()

        async def idle() -> bool:
            return (await status(provider.address)).active_jobs == 0

        await wait_until(idle, timeout=5)
        cancelled = time.monotonic()
    assert failure.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert ended - started < 1.1
    assert cancelled - ended < 0.2
    figures["deadline_1s_caller_sees_ms"] = round((ended - started) * 1000, 1)
    assert "cancelled" in provider.log_text()


async def _inline_refusal(address: str, mib: int) -> PrizmError:
    """The error for a Transform with `mib` MiB of inline text, sent to a router or a provider."""
    options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        request = model_pb.TransformRequest(
            capability=media_pb.CAPABILITY_TEXT_TO_TEXT, inputs=[text_asset("y" * (mib * 1024 * 1024))]
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in model_grpc.ModelServiceStub(channel).Transform(request, timeout=10):
                pass
    return PrizmError.from_rpc_error(refused.value)


async def test_large_payloads_pass_every_hop_within_the_limits(tmp_config: Path) -> None:
    with synthetic_mesh(tmp_config, 1) as (router, (provider,)):
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            big_input = "x" * (3 * 1024 * 1024 + 900 * 1024)  # 3.9 MiB inline
            result = await client.run(
                "text-to-text", big_input, options={"events": 1, "output_bytes": 16}, timeout=30
            )
            assert result.outputs[0].data == b"x" * 16
            size = 64 * 1024 * 1024
            result = await client.run(
                "text-to-text", "abc", options={"events": 1, "output_bytes": size}, timeout=60
            )
            assert result.outputs[0].size_bytes == size
            assert result.outputs[0].sha256 == hashlib.sha256(synthetic_output(b"abc", size)).hexdigest()
            # Over the inline limit, the client uploads the input by itself.
            uploaded = await client.run(
                "text-to-text", "z" * (9 * 1024 * 1024), options={"events": 1, "output_bytes": 16}, timeout=60
            )
            assert uploaded.outputs[0].data == b"z" * 16
        # Sent inline anyway: INPUT_TOO_LARGE saying how to send it instead, from the router and from
        # a provider; up to 16 MiB the server reads the request to say so, beyond it gRPC refuses.
        for target in (router.address, provider.address):
            for mib, code, reason in (
                (5, grpc.StatusCode.INVALID_ARGUMENT, "INPUT_TOO_LARGE"),  # over the 4 MiB inline limit
                (9, grpc.StatusCode.INVALID_ARGUMENT, "INPUT_TOO_LARGE"),  # over the 8 MiB message limit
                (17, grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"),  # gRPC's own, no details
            ):
                error = await _inline_refusal(target, mib)
                assert (error.code, error.reason) == (code, reason), (target, mib, error)
                if reason == "INPUT_TOO_LARGE":
                    assert "UploadAsset" in error.message and "prizm-asset://" in error.message
        await wait_routable(router.address, 1)
        await wait_routable(router.address, 1)


async def test_router_sigterm_drains_then_ends_longer_streams(
    tmp_config: Path, figures: dict[str, object]
) -> None:
    with synthetic_mesh(tmp_config, 1, grace_s=1.0) as (router, _):
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            short = asyncio.create_task(client.run("text-to-text", "short", options=ONE_SECOND, timeout=30))
            long = asyncio.create_task(
                client.run("text-to-text", "long", options={"events": 100, "interval_ms": 100}, timeout=30)
            )
            await asyncio.sleep(0.3)
            signalled = time.monotonic()
            router.signal(signal.SIGTERM)
            done, failed = await asyncio.gather(short, long, return_exceptions=True)
        assert not isinstance(done, BaseException)
        assert done.outputs[0].data == synthetic_output(b"short", 1024)
        assert isinstance(failed, PrizmError)
        assert (failed.code, failed.reason) == (grpc.StatusCode.UNAVAILABLE, "ROUTER_SHUTTING_DOWN"), failed
        assert failed.metadata["job_id"] and failed.metadata["job_id"] in failed.message
        assert failed.retry_after_s == 1.0
        assert await asyncio.to_thread(router.process.wait, 10) == 0
        figures["router_sigterm_exit_s"] = round(time.monotonic() - signalled, 2)
        figures["router_sigterm_long_stream_code"] = f"{failed.code.name} {failed.reason}"


async def test_router_sigterm_ends_watches_at_once_and_the_cli_says_why(tmp_config: Path) -> None:
    with synthetic_mesh(tmp_config, 1, grace_s=5.0) as (router, _):
        await wait_routable(router.address, 1)
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "prizm_core.cli", "run", "text-to-text", "long", "--router", router.address,
            "--option", "events=100", "--option", "interval_ms=100",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with insecure_channel(router.address) as channel:
            watch = router_grpc.RouterServiceStub(channel).WatchProviders(router_pb.WatchProvidersRequest())
            await watch.read()

            async def running() -> bool:
                async with PrizmClient(router.address) as client:
                    return any(e.in_flight for e in await client.list_providers())

            await wait_until(running, timeout=30)  # the CLI's job is running (it takes a moment to start)
            router.signal(signal.SIGTERM)
            signalled = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                while await watch.read() is not grpc.aio.EOF:
                    pass
            watch_ended = time.monotonic() - signalled
        error = PrizmError.from_rpc_error(ended.value)
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "ROUTER_SHUTTING_DOWN")
        assert watch_ended < 0.5, "a watch must not hold the router's exit open"
        _, stderr = await cli.communicate()
        assert cli.returncode == 1
        (line,) = [line for line in stderr.decode().splitlines() if line.startswith("error:")]
        assert line.startswith("error: UNAVAILABLE ROUTER_SHUTTING_DOWN: the router is shutting down: job ")
        assert await asyncio.to_thread(router.process.wait, 10) == 0
        assert time.monotonic() - signalled < 5.0 + 2.0
