"""`prizm.v1.AssetService` on the router: large inputs uploaded once and handed to providers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import timestamp_pb2
from prizm.v1 import asset_service_pb2 as asset_pb

from prizm_core.errors import PrizmError, Reason
from prizm_core.router.assets import AssetStore

__all__ = ["AssetServicer"]

Context = grpc.aio.ServicerContext[Any, Any]


class AssetServicer:
    """Upload, download and delete of the router's stored assets."""

    def __init__(self, store: AssetStore) -> None:
        self.store = store

    async def UploadAsset(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[asset_pb.UploadAssetRequest], context: Context
    ) -> asset_pb.UploadAssetResponse:
        """Stores the streamed asset and returns its URI."""
        stored = await self.store.put(request_iterator)
        expires = timestamp_pb2.Timestamp()
        expires.FromNanoseconds(int((time.time() + self.store.ttl_s) * 1e9))
        return asset_pb.UploadAssetResponse(asset=stored.asset, expires=expires)

    async def DownloadAsset(  # noqa: N802 - gRPC method name
        self, request: asset_pb.DownloadAssetRequest, context: Context
    ) -> AsyncIterator[asset_pb.DownloadAssetResponse]:
        """Streams a stored asset: the header, then its chunks."""
        stored = self.store.get(request.uri)
        yield asset_pb.DownloadAssetResponse(header=stored.asset)
        async for chunk in self.store.chunks(stored):
            yield asset_pb.DownloadAssetResponse(chunk=chunk)

    async def DeleteAsset(  # noqa: N802 - gRPC method name
        self, request: asset_pb.DeleteAssetRequest, context: Context
    ) -> asset_pb.DeleteAssetResponse:
        """Forgets a stored asset."""
        if not self.store.delete(request.uri):
            raise PrizmError(grpc.StatusCode.NOT_FOUND, Reason.ASSET_NOT_FOUND, f"no asset {request.uri}")
        return asset_pb.DeleteAssetResponse()
