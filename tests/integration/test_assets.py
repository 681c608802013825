"""Inputs of any size: uploaded to the router, handed to the provider, all with flat memory."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import grpc
import pytest
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc

from benchmarks.processes import PeakRss
from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from tests.support.mesh import wait_routable
from tests.support.processes import synthetic_mesh

MIB = 1024 * 1024


async def test_a_large_input_goes_by_reference_with_flat_memory(
    tmp_config: Path, tmp_path: Path, figures: dict[str, object]
) -> None:
    size = 48 * MIB
    source = tmp_path / "big.txt"
    await asyncio.to_thread(source.write_bytes, (b"0123456789abcdef" * (size // 16)))
    with synthetic_mesh(tmp_config, 1) as (router, _):
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            with PeakRss(router.pid) as router_memory:
                asset = await client.upload(source)
                assert asset.uri.startswith("prizm-asset://") and asset.size_bytes == size
                # The synthetic model repeats its input: an output of the same size is the input itself.
                result = await client.run(
                    "text-to-text", asset, options={"events": 1, "output_bytes": size}, timeout=120
                )
    expected = hashlib.sha256(await asyncio.to_thread(source.read_bytes)).hexdigest()
    assert asset.sha256 == expected
    assert result.outputs[0].sha256 == expected
    assert result.outputs[0].provenance.input_sha256 == (expected,)
    figures["upload_48mib_router_growth_mib"] = round(router_memory.growth_mib, 1)
    assert router_memory.growth_mib < 32, "the router streams, it never holds an asset"


async def test_a_path_over_the_inline_limit_is_uploaded_by_the_client(
    tmp_config: Path, tmp_path: Path
) -> None:
    source = tmp_path / "medium.txt"
    await asyncio.to_thread(source.write_bytes, b"x" * (5 * MIB))
    with synthetic_mesh(tmp_config, 1) as (router, _):
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            result = await client.run(
                "text-to-text", source, options={"events": 1, "output_bytes": 10}, timeout=60
            )
    assert result.outputs[0].data == b"x" * 10


async def test_unknown_and_foreign_asset_references_are_refused(tmp_config: Path) -> None:
    with synthetic_mesh(tmp_config, 1) as (router, (provider,)):
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            missing = media_pb.Asset(
                kind=media_pb.MEDIA_KIND_TEXT, mime_type="text/plain", uri="prizm-asset://0abc"
            )
            with pytest.raises(PrizmError) as failure:
                await client.run("text-to-text", missing, timeout=10)
            assert (failure.value.code, failure.value.reason) == (
                grpc.StatusCode.NOT_FOUND,
                "ASSET_NOT_FOUND",
            )
            foreign = media_pb.Asset(
                kind=media_pb.MEDIA_KIND_TEXT, mime_type="text/plain", uri="file:///etc/passwd"
            )
            with pytest.raises(PrizmError) as failure:
                await client.run("text-to-text", foreign, timeout=10)
            assert failure.value.reason == "UNSUPPORTED_ASSET_SOURCE"
        # A provider called directly cannot be made to fetch anything.
        async with insecure_channel(provider.address) as channel:
            stub = model_grpc.ModelServiceStub(channel)
            request = model_pb.TransformRequest(capability=1, inputs=[missing])
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                async for _ in stub.Transform(request, timeout=10):
                    pass
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_store_holds_a_bounded_number_of_assets(tmp_config: Path, tmp_path: Path) -> None:
    # Empty uploads weigh nothing against asset_max_bytes, but each costs a file and memory.
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with synthetic_mesh(tmp_config, 1, asset_max_count=3) as (router, _):
        async with PrizmClient(router.address) as client:
            uploaded = [await client.upload(empty) for _ in range(3)]
            assert len({asset.uri for asset in uploaded}) == 3
            with pytest.raises(PrizmError) as full:
                await client.upload(empty)
            assert (full.value.code, full.value.reason) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "ASSET_STORE_FULL",
            )
            assert full.value.retry_after_s == 60.0
