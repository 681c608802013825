"""Fidelity: statuses and metadata pass as they should; a surprise is a generic INTERNAL; nothing leaks."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import unquote

import grpc
import pytest
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.assets import text_asset
from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from prizm_core.options import options_struct
from tests.support.control import configure
from tests.support.h2status import raw_call
from tests.support.mesh import wait_routable
from tests.support.processes import start_provider, start_router, write_config

pytestmark = pytest.mark.faults

CANARY = "sk-CANARY-7f3a9c1e5b2d4f60"


async def test_an_unknown_method_is_unimplemented(tmp_path: Path) -> None:
    router = start_router()
    try:
        async with insecure_channel(router.address) as channel:
            call = channel.unary_unary("/prizm.v1.RouterService/NoSuchMethod")
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await call(b"", timeout=5)
        assert failure.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        router.stop()


async def test_a_surprise_in_a_provider_is_a_generic_internal_with_a_correlation_id(tmp_path: Path) -> None:
    provider = start_provider("synthetic", env={"OPENAI_API_KEY": CANARY})
    router = start_router(
        write_config(tmp_path / "router.yaml", [provider.address]), env={"OPENAI_API_KEY": CANARY}
    )
    try:
        await wait_routable(router.address, 1)
        detail = f"cannot open /srv/secrets/key.txt for https://api.example.com?key={CANARY}"
        await configure(provider.address, fail_with=detail)
        async with PrizmClient(router.address) as client:
            with pytest.raises(PrizmError) as failure:
                await client.run("text-to-text", "boom", options={"events": 2}, timeout=10)
        error = failure.value
        assert (error.code, error.reason) == (grpc.StatusCode.INTERNAL, "INTERNAL_ERROR")
        correlation = error.metadata["correlation_id"]
        assert correlation in error.message
        assert "/srv/secrets" not in error.message and "example.com" not in error.message
        assert CANARY not in str(error)
        log = provider.log_text()
        assert re.search(rf"correlation id {correlation}", log)
        assert "/srv/secrets/key.txt" in log, "the detail stays in the provider's log"
        assert CANARY not in log and "[REDACTED]" in log
        assert CANARY not in router.log_text()
    finally:
        router.stop()
        provider.stop()


async def test_allow_listed_metadata_reaches_the_provider_and_nothing_else(tmp_path: Path) -> None:
    provider = start_provider("synthetic")
    config = write_config(
        tmp_path / "router.yaml", [provider.address], forward_metadata=["x-tenant", "x-blob-bin"]
    )
    router = start_router(config)
    try:
        await wait_routable(router.address, 1)
        metadata = (
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("x-tenant", "acme"),
            ("x-blob-bin", b"\x00\x01\x02"),
            ("x-private", "do not forward"),
        )
        async with insecure_channel(router.address) as channel:
            stub = router_grpc.RouterServiceStub(channel)
            request = router_pb.RouterServiceTransformRequest(
                capability=1,
                inputs=[text_asset("hi")],
                options=options_struct({"events": 1, "echo_metadata": True}),
            )
            events = [e async for e in stub.Transform(request, metadata=metadata, timeout=10)]
        (logs,) = [list(e.progress.logs) for e in events if e.progress.logs]
        seen = dict(line.split("=", 1) for line in logs)
        assert seen["traceparent"] == repr(metadata[0][1])
        assert seen["x-tenant"] == "'acme'"
        assert seen["x-blob-bin"] == repr(b"\x00\x01\x02")
        assert "x-private" not in seen
    finally:
        router.stop()
        provider.stop()


async def test_oversized_metadata_is_refused_cleanly(tmp_path: Path) -> None:
    provider = start_provider("synthetic")
    router = start_router(write_config(tmp_path / "router.yaml", [provider.address]))
    try:
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            with pytest.raises(PrizmError) as failure:
                async for _ in client.stream("text-to-text", "hi", timeout=10, job_id="j" * 20_000):
                    pass
            assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert failure.value.field_violations[0][0] == "job_id"
        huge = (("x-huge", "v" * 20 * 1024),)
        many = tuple((f"x-key-{n}", "v") for n in range(1_000))
        async with insecure_channel(router.address) as channel:
            stub = router_grpc.RouterServiceStub(channel)
            for metadata in (huge, many) * 3:  # the same answer every time, never at random
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await stub.ListProviders(router_pb.ListProvidersRequest(), metadata=metadata, timeout=5)
                error = PrizmError.from_rpc_error(refused.value)
                assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert error.reason == "METADATA_TOO_LARGE"
                assert f"in {len(metadata) + 1} entries" in error.message
                assert "limit is 16384" in error.message
            # Just below the limit passes, every time (gRPC alone refuses some at random above 8 KiB).
            for _ in range(20):
                await stub.ListProviders(
                    router_pb.ListProvidersRequest(), metadata=(("x-big", "v" * 15_000),), timeout=5
                )
        await wait_routable(router.address, 1)  # and the router serves on
    finally:
        router.stop()
        provider.stop()


async def test_a_forwarded_header_that_is_not_ascii_is_refused_by_name(tmp_path: Path) -> None:
    # Only a bare HTTP/2 client sends these: gRPC libraries refuse such values themselves.
    provider = start_provider("synthetic")
    router = start_router(write_config(tmp_path / "router.yaml", [provider.address]))
    request = router_pb.RouterServiceTransformRequest(capability=1, inputs=[text_asset("hi")])
    try:
        await wait_routable(router.address, 1)
        for value in (b"00-\xff\xfe-01", "café".encode(), b"a\x01b"):
            code, message = await asyncio.to_thread(
                raw_call,
                router.address,
                "/prizm.v1.RouterService/Transform",
                [(b"traceparent", value)],
                [request.SerializeToString()],
            )
            assert code == "INVALID_ARGUMENT", (value, code, message)
            assert "metadata.traceparent: must be printable ASCII" in unquote(message)
    finally:
        router.stop()
        provider.stop()
