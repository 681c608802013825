"""Inputs sent by reference: downloaded from the router's AssetService to a file, as they stream."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import BinaryIO

import grpc
from prizm.v1 import asset_service_pb2 as asset_pb
from prizm.v1 import asset_service_pb2_grpc as asset_grpc
from prizm.v1 import media_pb2 as media_pb

from prizm_core.channels import open_channel
from prizm_core.errors import PrizmError, Reason
from prizm_core.security.tls import caller_tls

__all__ = ["fetch_asset"]


async def fetch_asset(source: str, uri: str, target: Path) -> media_pb.Asset:
    """Downloads `uri` from the router at `source` into `target`; returns the asset's header.

    Raises:
        PrizmError: DATA_LOSS when the bytes do not match the header's size and hash.
        grpc.aio.AioRpcError: the router's own status (e.g. NOT_FOUND ASSET_NOT_FOUND), passed on.
    """
    header = media_pb.Asset()
    digest, size = hashlib.sha256(), 0
    # A TLS router is dialled as any caller dials it: with PRIZM_TLS_CA (and _CERT, _KEY).
    async with open_channel(source, caller_tls(os.environ)) as channel:
        stub = asset_grpc.AssetServiceStub(channel)
        stream: BinaryIO = await asyncio.to_thread(target.open, "wb")
        try:
            async for part in stub.DownloadAsset(asset_pb.DownloadAssetRequest(uri=uri)):
                if part.WhichOneof("part") == "header":
                    header = part.header
                    continue
                digest.update(part.chunk)
                size += len(part.chunk)
                await asyncio.to_thread(stream.write, part.chunk)
        finally:
            await asyncio.to_thread(stream.close)
    if size != header.size_bytes or digest.hexdigest() != header.sha256:
        raise PrizmError(
            grpc.StatusCode.DATA_LOSS, Reason.ASSET_CORRUPTED, f"{uri} arrived incomplete or damaged"
        )
    return header
