"""A Cog prediction's output as Prizm outputs: text, files inline as data URIs, or files at URLs."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from prizm_core.enums import MediaKind
from provider_servers.remote import vendor_error
from provider_servers.replicate.mapping import parse_data_url
from provider_servers.sdk import Output

__all__ = ["OutputReader", "output_items"]

_DOWNLOAD_CHUNK_BYTES = 256 * 1024


def output_items(output: object) -> list[object]:
    """The items of an output: the list an iterator output grows into, or the one value."""
    if output is None:
        return []
    return list(output) if isinstance(output, list) else [output]


@dataclass(frozen=True)
class OutputReader:
    """Turns output items into outputs of the job's kind.

    Attributes:
        kind: The job's output kind.
        fallback_mime: The model's output MIME type, for a file whose URL does not say.
    """

    kind: MediaKind
    fallback_mime: str = ""

    @property
    def text_kind(self) -> bool:
        """Whether the job makes text (its output is read as text, not as files)."""
        return self.kind == MediaKind.TEXT

    def text(self, output: object) -> Output:
        """The text of a text output: one string, or the pieces an iterator of strings yielded.

        Raises:
            ValueError: The output is not text.
        """
        items = output_items(output)
        if not all(isinstance(item, str) for item in items):
            raise ValueError(f"the model returned no text: {str(output)[:200]!r}")
        return Output(MediaKind.TEXT, "text/plain", "".join(str(item) for item in items).encode())

    def file(self, item: object) -> Output:
        """One file item: a `data:` URI decoded, or an `http(s)` URL streamed from where it is.

        Raises:
            ValueError: The item is neither.
        """
        if isinstance(item, str) and item.startswith("data:"):
            inline = parse_data_url(item)
            return Output(self.kind, inline.mime_type or self.fallback_mime, inline.data)
        if isinstance(item, str) and item.startswith(("http://", "https://")):
            guessed = mimetypes.guess_type(item.split("?")[0])[0]
            mime = guessed or self.fallback_mime or "application/octet-stream"
            return Output(self.kind, mime, _download(item))
        raise ValueError(f"the model returned no file: {str(item)[:200]!r}")


async def _download(url: str) -> AsyncIterator[bytes]:
    """The file at `url`, as it streams (Cog's `--upload-url` puts outputs there)."""
    try:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=10.0)) as client,
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            async for chunk in response.aiter_bytes(_DOWNLOAD_CHUNK_BYTES):
                yield chunk
    except httpx.HTTPError as exc:
        # The prediction ran: its output being out of reach is the job's failure, not a bad request.
        raise vendor_error(None, f"its output {url} could not be fetched: {exc}", accepted=True) from None
