"""`VendorHttp`: the one HTTP client of every remote provider: auth, bounded retries, error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any, TypedDict, Unpack

import httpx

from prizm_core.errors import PrizmError
from prizm_core.telemetry.http_tracing import TracingTransport
from provider_servers.remote.scrubbing import scrub
from provider_servers.remote.vendor import Vendor
from provider_servers.remote.vendor_errors import retry_after_seconds, vendor_error

__all__ = ["DOWNLOAD_CHUNK_BYTES", "RequestBody", "VendorHttp"]

log = logging.getLogger(__name__)

DOWNLOAD_CHUNK_BYTES = 256 * 1024
_DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
_MAX_REDIRECTS = 5
_MAX_ERROR_BODY = 64 * 1024
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Words vendors put in an error's `code` or `type` when their content policy refused a request.
_CONTENT_POLICY_WORDS = ("content_policy", "moderation", "safety", "nsfw", "content_filter")


def _error_text(body: bytes) -> tuple[str, bool]:
    """The vendor's message from an error body, and whether it names a content-policy refusal."""
    text = body.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return text.strip() or "(empty response)", False
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    if isinstance(error, dict):
        words = error.get("message") or error.get("detail") or error.get("title") or json.dumps(error)
        labels = f"{error.get('code', '')} {error.get('type', '')}".lower()
    else:
        words, labels = error, ""
    if isinstance(parsed, dict) and not isinstance(words, str):
        words = parsed.get("detail") or parsed.get("message") or json.dumps(parsed)
    if isinstance(words, list):  # FastAPI-style `detail` (fal's model errors): [{"msg", "type"}, ...]
        items = [item for item in words if isinstance(item, dict)]
        labels += " " + " ".join(str(item.get("type", "")) for item in items).lower()
        words = "; ".join(str(item["msg"]) for item in items if item.get("msg")) or words
    words = words if isinstance(words, str) else json.dumps(words)
    return words, any(word in labels for word in _CONTENT_POLICY_WORDS)


class RequestBody(TypedDict, total=False):
    """What a request sends, as httpx takes it.

    Attributes:
        json: A JSON body.
        content: A raw body: bytes, or an async iterable of them (a file's upload, streamed).
        data: Form fields.
        files: Multipart files (`multipart_file` makes one from an input).
        params: Query parameters.
        headers: Extra headers (the auth header is added for the vendor's own host).
        timeout: Seconds for this request instead of the client's default.

    None is the same as leaving a field out (a `timeout` of None keeps the default, it does not turn
    the timeout off).
    """

    json: Any
    content: bytes | AsyncIterable[bytes] | None
    data: Mapping[str, Any] | None
    files: Any
    params: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    timeout: float | None


class VendorHttp:
    """An `httpx.AsyncClient` for one vendor: its key in the auth header (to its own host only),
    failures mapped by `vendor_error`, and retries that never resend a paid request.

    Args:
        vendor: The vendor.
        api_key: The key; sent in the vendor's auth header, never logged.
        base_url: The base URL relative paths are joined to.
        timeout: Default timeout of a request.
        retries: How often an unpaid request is retried after a connect error, 5xx or 429.
        backoff_s: First pause between retries; it doubles each time.
    """

    def __init__(
        self,
        vendor: Vendor,
        api_key: str,
        base_url: str,
        *,
        timeout: httpx.Timeout = _DEFAULT_TIMEOUT,
        retries: int = 3,
        backoff_s: float = 0.2,
    ) -> None:
        self.vendor = vendor
        self.base_url = httpx.URL(base_url.rstrip("/") + "/")
        self.retries = retries
        self.backoff_s = backoff_s
        self._api_key = api_key
        # Redirects are followed here, hop by hop, so the key never goes to another host.
        # Traced: each request a child span of the job's, its `traceparent` sent to the vendor.
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, transport=TracingTransport()
        )

    def reconfigure(self, api_key: str, base_url: str) -> None:
        """Uses another key and base URL from the next request on (requests under way keep theirs)."""
        self._api_key = api_key
        self.base_url = httpx.URL(base_url.rstrip("/") + "/")

    async def aclose(self) -> None:
        """Closes the connections."""
        await self._client.aclose()

    def scrub(self, text: str) -> str:
        """`text` without this client's key or anything else that looks like a secret."""
        return scrub(text, self._api_key)

    def error_text(self, body: bytes) -> tuple[str, bool]:
        """The vendor's message in an error body, and whether it names a content-policy refusal.

        Reads the common shapes (`{"error": {"message", "code"}}`, `detail`, `title`); a vendor with
        another shape overrides it (the generic HTTP provider reads the paths its config names).
        """
        return _error_text(body)

    def url(self, path_or_url: str) -> httpx.URL:
        """An absolute URL as given, or a path joined to the base URL."""
        if path_or_url.startswith(("http://", "https://")):
            return httpx.URL(path_or_url)
        return self.base_url.join(path_or_url.lstrip("/"))

    def _same_origin(self, url: httpx.URL) -> bool:
        base = self.base_url
        return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)

    def _headers(self, url: httpx.URL, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self._api_key and self._same_origin(url):
            headers[self.vendor.auth_header] = self.vendor.auth_value(self._api_key)
        return headers

    async def _send(self, method: str, url: httpx.URL, kwargs: dict[str, Any]) -> httpx.Response:
        """One request, streamed, following GET redirects with the auth header for the vendor's host only."""
        headers = kwargs.pop("headers", None)
        for _ in range(_MAX_REDIRECTS + 1):
            request = self._client.build_request(method, url, headers=self._headers(url, headers), **kwargs)
            response = await self._client.send(request, stream=True)
            if not (response.is_redirect and method in ("GET", "HEAD") and "location" in response.headers):
                return response
            await response.aclose()
            url = url.join(response.headers["location"])
        raise vendor_error(None, "too many redirects", vendor=self.vendor.name)

    async def _failure(self, response: httpx.Response, accepted: bool) -> PrizmError:
        """The error for a response with a failure status (its body read, bounded)."""
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= _MAX_ERROR_BODY:
                break
        await response.aclose()
        words, filtered = self.error_text(body[:_MAX_ERROR_BODY])
        return vendor_error(
            response.status_code,
            self.scrub(words),
            retry_after=response.headers.get("retry-after"),
            accepted=accepted,
            content_filtered=filtered,
            vendor=self.vendor.name,
        )

    def _unreachable(self, exc: httpx.HTTPError, accepted: bool) -> PrizmError:
        # The exception's text may hold the URL (and its query); only its class and scrubbed words go out.
        words = self.scrub(f"{type(exc).__name__}: {exc}")
        return vendor_error(None, words, accepted=accepted, vendor=self.vendor.name)

    async def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = retry_after_seconds(retry_after)
        await asyncio.sleep(min(delay if delay is not None else self.backoff_s * 2**attempt, 10.0))

    async def _open(
        self, method: str, path_or_url: str, attempts: int, accepted: bool, kwargs: dict[str, Any]
    ) -> httpx.Response:
        """A response with a success status, its body not read yet; failures raised as PrizmError."""
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._send(method, self.url(path_or_url), dict(kwargs))
            except httpx.InvalidURL as exc:  # not an HTTPError: a URL the vendor gave that cannot be sent
                words = self.scrub(f"invalid URL: {exc}")
                raise vendor_error(None, words, accepted=accepted, vendor=self.vendor.name) from None
            except httpx.HTTPError as exc:
                # A paid request that failed may still have reached the vendor: never resent.
                if last or not isinstance(exc, httpx.TransportError):
                    raise self._unreachable(exc, accepted) from None
                log.info("%s %s: %s; retrying", self.vendor.name, method, type(exc).__name__)
                await self._pause(attempt, None)
                continue
            if response.is_success:
                return response
            if last or response.status_code not in _RETRY_STATUSES:
                raise await self._failure(response, accepted)
            await response.aclose()
            log.info("%s %s: HTTP %d; retrying", self.vendor.name, method, response.status_code)
            await self._pause(attempt, response.headers.get("retry-after"))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _attempts(self, paid: bool, retries: int | None) -> int:
        # A paid request that may have reached the vendor is never resent: one attempt.
        return 1 if paid else 1 + (self.retries if retries is None else retries)

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        paid: bool = True,
        accepted: bool = False,
        retries: int | None = None,
        **body: Unpack[RequestBody],
    ) -> httpx.Response:
        """Sends a request and returns the read response, or raises the mapped PrizmError.

        Args:
            method: HTTP method.
            path_or_url: A path relative to the base URL, or an absolute URL.
            paid: Whether the request may cost money: it is then sent once and never retried.
            accepted: Whether the vendor already accepted the job this request is about (a poll):
                a failure is then `UPSTREAM_JOB_FAILED`, never a failover.
            retries: Retries of an unpaid request instead of the client's own number.
            **body: What to send (`RequestBody`: json, content, data, files, params, headers, timeout).

        Raises:
            PrizmError: As `vendor_error` maps the failure.
        """
        response = await self._open(method, path_or_url, self._attempts(paid, retries), accepted, _sent(body))
        try:
            await response.aread()
        except httpx.HTTPError as exc:
            raise self._unreachable(exc, accepted or paid) from None
        finally:
            await response.aclose()
        return response

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        path_or_url: str,
        *,
        paid: bool = True,
        accepted: bool = False,
        retries: int | None = None,
        **body: Unpack[RequestBody],
    ) -> AsyncIterator[httpx.Response]:
        """Sends a request and yields the response with its body unread (SSE, streamed audio).

        Arguments as in `request`. A failure while the body is read becomes `UPSTREAM_JOB_FAILED`:
        the vendor had accepted the request by then.

        Raises:
            PrizmError: As `vendor_error` maps the failure.
        """
        response = await self._open(method, path_or_url, self._attempts(paid, retries), accepted, _sent(body))
        try:
            yield response
        except httpx.HTTPError as exc:
            raise self._unreachable(exc, True) from None
        finally:
            await response.aclose()

    async def download(
        self, url: str, *, chunk_bytes: int = DOWNLOAD_CHUNK_BYTES, accepted: bool = True
    ) -> AsyncIterator[bytes]:
        """Streams a URL's body in chunks of at most `chunk_bytes`, with flat memory.

        The key goes only to the vendor's own host, never to a storage host it links to.
        Failures are `UPSTREAM_JOB_FAILED` by default: the job's result could not be fetched.
        """
        async with self.stream("GET", url, paid=False, accepted=accepted) as response:
            async for chunk in response.aiter_bytes(chunk_bytes):
                yield chunk


def _sent(body: RequestBody) -> dict[str, Any]:
    return {name: value for name, value in body.items() if value is not None}
