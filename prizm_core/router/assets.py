"""Uploaded assets on the router's disk: written as they stream in, read as they stream out, leased."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import grpc
from prizm.v1 import asset_service_pb2 as asset_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core.assets import ASSET_URI_SCHEME
from prizm_core.channels import CHUNK_BYTES
from prizm_core.errors import PrizmError, Reason, invalid_argument
from prizm_core.logs import RATE_LIMIT

__all__ = ["AssetStore", "StoredAsset", "asset_id"]

log = logging.getLogger(__name__)

URI_SCHEME = ASSET_URI_SCHEME
_REAP_EVERY_S = 5.0


def asset_id(uri: str) -> str:
    """The id in a `prizm-asset://<id>` URI.

    Raises:
        PrizmError: INVALID_ARGUMENT UNSUPPORTED_ASSET_SOURCE for any other URI.
    """
    if not uri.startswith(URI_SCHEME) or not uri[len(URI_SCHEME) :].isalnum():
        raise invalid_argument(
            [("uri", f"only {URI_SCHEME}<id> URIs from UploadAsset are accepted")],
            Reason.UNSUPPORTED_ASSET_SOURCE,
        )
    return uri[len(URI_SCHEME) :]


@dataclass
class StoredAsset:
    """An asset on disk: its description (with URI, size and sha256), its file and its lease."""

    asset: media_pb.Asset
    path: Path
    expires: float


class AssetStore:
    """Assets uploaded to this router, in a folder of their own, each leased for `ttl_s` from last use."""

    def __init__(self, root: Path | None, ttl_s: float, max_bytes: int, max_count: int = 10_000) -> None:
        self._owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="prizm-assets-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        # Bytes alone do not bound it: empty uploads cost a file and ~2 KiB of memory each.
        self.max_count = max_count
        self._assets: dict[str, StoredAsset] = {}
        self._used = 0
        self._reaper: asyncio.Task[None] | None = None

    async def put(self, parts: AsyncIterator[asset_pb.UploadAssetRequest]) -> StoredAsset:
        """Stores an upload (a header, then chunks); a partial or failed upload leaves nothing.

        Raises:
            PrizmError: INVALID_ARGUMENT for a missing header or a size or hash that does not
                match it; RESOURCE_EXHAUSTED ASSET_STORE_FULL when the store would exceed its size.
        """
        if len(self._assets) >= self.max_count:
            raise PrizmError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                Reason.ASSET_STORE_FULL,
                f"the router's asset store holds {len(self._assets)} assets, its limit",
                retry_after_s=60.0,
            )
        header: media_pb.Asset | None = None
        identifier = uuid.uuid4().hex
        path = self.root / identifier
        digest, size = hashlib.sha256(), 0
        stream: BinaryIO = await asyncio.to_thread(path.open, "wb")
        try:
            async for part in parts:
                if part.WhichOneof("part") == "header":
                    if header is not None:
                        raise invalid_argument([("header", "sent twice")])
                    header = part.header
                    continue
                if header is None:
                    raise invalid_argument([("header", "must come before the chunks")])
                size += len(part.chunk)
                if self._used + size > self.max_bytes:
                    raise PrizmError(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        Reason.ASSET_STORE_FULL,
                        f"the router's asset store is full ({self.max_bytes} bytes)",
                        retry_after_s=60.0,
                    )
                digest.update(part.chunk)
                await asyncio.to_thread(stream.write, part.chunk)
            await asyncio.to_thread(stream.close)
            stored = self._checked(identifier, path, header, size, digest.hexdigest())
        except BaseException:
            await asyncio.to_thread(stream.close)
            path.unlink(missing_ok=True)
            raise
        self._assets[identifier] = stored
        self._used += size
        self._start_reaper()
        log.info("asset %s stored: %d bytes", identifier, size, extra={RATE_LIMIT: True})
        return stored

    def _checked(
        self, identifier: str, path: Path, header: media_pb.Asset | None, size: int, sha256: str
    ) -> StoredAsset:
        if header is None:
            raise invalid_argument([("header", "is required")])
        violations = []
        if header.kind == media_pb.MEDIA_KIND_UNSPECIFIED:
            violations.append(("header.kind", "is required"))
        if not header.mime_type:
            violations.append(("header.mime_type", "is required"))
        if header.size_bytes and header.size_bytes != size:
            violations.append(("header.size_bytes", f"says {header.size_bytes}, received {size}"))
        if header.sha256 and header.sha256.lower() != sha256:
            violations.append(("header.sha256", "does not match the bytes received"))
        if violations:
            mismatch = any(name == "header.sha256" for name, _ in violations)
            raise invalid_argument(
                violations, Reason.ASSET_HASH_MISMATCH if mismatch else Reason.INVALID_INPUT
            )
        asset = media_pb.Asset(
            kind=header.kind,
            mime_type=header.mime_type,
            metadata=header.metadata,
            size_bytes=size,
            sha256=sha256,
            uri=URI_SCHEME + identifier,
        )
        return StoredAsset(asset=asset, path=path, expires=time.monotonic() + self.ttl_s)

    def get(self, uri: str) -> StoredAsset:
        """The stored asset at `uri`, its lease renewed.

        Raises:
            PrizmError: INVALID_ARGUMENT for a URI that is not ours; NOT_FOUND ASSET_NOT_FOUND.
        """
        stored = self._assets.get(asset_id(uri))
        if stored is None:
            raise PrizmError(
                grpc.StatusCode.NOT_FOUND,
                Reason.ASSET_NOT_FOUND,
                f"no asset {uri} (never uploaded, deleted or expired)",
            )
        stored.expires = time.monotonic() + self.ttl_s
        return stored

    async def chunks(self, stored: StoredAsset) -> AsyncIterator[bytes]:
        """The asset's bytes, read from disk a chunk at a time."""
        stream: BinaryIO = await asyncio.to_thread(stored.path.open, "rb")
        try:
            while piece := await asyncio.to_thread(stream.read, CHUNK_BYTES):
                yield piece
        finally:
            await asyncio.to_thread(stream.close)

    def delete(self, uri: str) -> bool:
        """Forgets an asset; False if there was none."""
        stored = self._assets.pop(asset_id(uri), None)
        if stored is None:
            return False
        self._used -= stored.asset.size_bytes
        stored.path.unlink(missing_ok=True)
        return True

    def _start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap(), name="asset reaper")

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(_REAP_EVERY_S)
            now = time.monotonic()
            for stored in [s for s in self._assets.values() if s.expires <= now]:
                log.info("asset %s expired", stored.asset.uri)
                self.delete(stored.asset.uri)

    async def close(self) -> None:
        """Stops the reaper and deletes every stored asset (and the folder, if the store made it)."""
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        for uri in [s.asset.uri for s in self._assets.values()]:
            self.delete(uri)
        if self._owned:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.root)
