"""Sending a job's input files: inline when small, uploaded to the router's asset store when large."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
from prizm.v1 import asset_service_pb2 as asset_pb
from prizm.v1 import asset_service_pb2_grpc as asset_grpc
from prizm.v1 import media_pb2 as media_pb

from prizm_core.assets import describe_file, file_asset
from prizm_core.channels import CHUNK_BYTES, INLINE_LIMIT_BYTES
from prizm_core.client.inputs import file_size
from prizm_core.errors import PrizmError, Reason

__all__ = ["Uploads"]


class Uploads:
    """Turns files and large inline inputs into what a request can carry, through `AssetService`."""

    def __init__(self, stub: asset_grpc.AssetServiceAsyncStub) -> None:
        self._stub = stub

    async def upload(self, path: Path, mime_type: str = "", timeout: float | None = None) -> media_pb.Asset:
        """Uploads a file as it is read and returns an input that refers to it (any size, flat memory).

        Raises:
            PrizmError: INVALID_ARGUMENT INVALID_INPUT for a file that cannot be read or whose media type
                cannot be told.
        """
        await asyncio.to_thread(file_size, path)
        header = await asyncio.to_thread(describe_file, path, mime_type)

        async def chunks() -> AsyncIterator[bytes]:
            stream = await asyncio.to_thread(path.open, "rb")
            try:
                while chunk := await asyncio.to_thread(stream.read, CHUNK_BYTES):
                    yield chunk
            finally:
                await asyncio.to_thread(stream.close)

        return await self._upload(header, chunks(), path.name, timeout)

    async def asset(
        self, path: Path, mime_type: str = "", field: str = "input", timeout: float | None = None
    ) -> media_pb.Asset:
        """An input for a file: its bytes inline when small, an upload when over the inline limit.

        Raises:
            PrizmError: INVALID_ARGUMENT INVALID_INPUT, naming `field`, for a file that cannot be read
                or whose media type cannot be told.
        """
        if await asyncio.to_thread(file_size, path, field) > INLINE_LIMIT_BYTES:
            return await self.upload(path, mime_type, timeout)
        return await asyncio.to_thread(file_asset, path, mime_type)

    async def within_inline_limit(
        self, assets: Sequence[media_pb.Asset], timeout: float | None
    ) -> list[media_pb.Asset]:
        """The inputs, with those that would take the request over the inline limit uploaded instead."""
        kept: list[media_pb.Asset] = []
        inline = 0
        for index, asset in enumerate(assets):
            if asset.WhichOneof("source") == "data" and inline + len(asset.data) > INLINE_LIMIT_BYTES:
                kept.append(await self._upload_inline(asset, f"inputs[{index}]", timeout))
            else:
                inline += len(asset.data)
                kept.append(asset)
        return kept

    async def _upload_inline(self, asset: media_pb.Asset, name: str, timeout: float | None) -> media_pb.Asset:
        header = media_pb.Asset()
        header.CopyFrom(asset)
        header.ClearField("data")

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(asset.data), CHUNK_BYTES):
                yield asset.data[start : start + CHUNK_BYTES]

        return await self._upload(header, chunks(), name, timeout)

    async def _upload(
        self, header: media_pb.Asset, chunks: AsyncIterator[bytes], name: str, timeout: float | None
    ) -> media_pb.Asset:
        digest = hashlib.sha256()

        async def parts() -> AsyncIterator[asset_pb.UploadAssetRequest]:
            yield asset_pb.UploadAssetRequest(header=header)
            async for chunk in chunks:
                digest.update(chunk)
                yield asset_pb.UploadAssetRequest(chunk=chunk)

        try:
            response = await self._stub.UploadAsset(parts(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise PrizmError.from_rpc_error(exc) from None
        if response.asset.sha256 != digest.hexdigest():
            raise PrizmError(grpc.StatusCode.DATA_LOSS, Reason.ASSET_CORRUPTED, f"{name} arrived damaged")
        return response.asset
