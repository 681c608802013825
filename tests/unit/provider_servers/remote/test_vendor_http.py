"""`VendorHttp` against a fake vendor on loopback: auth, retries, errors, streams and downloads."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import grpc
import pytest
from aiohttp import web

from prizm_core.errors import PrizmError, Reason
from provider_servers.remote import FakeVendor, Vendor, VendorHttp

KEY = "sk-CANARY-7d41e0b9a2c35f68"
ACME = Vendor("acme", "ACME_API_KEY", "ACME_BASE_URL", "https://api.acme.invalid/v1")
MIB = 1024 * 1024
BIG = 50 * MIB


class Acme(FakeVendor):
    """A vendor with an endpoint per behaviour under test."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 0
        self.release = threading.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/jobs", self.create)
        app.router.add_post("/v1/slow", self.slow)
        app.router.add_get("/v1/flaky", self.flaky)
        app.router.add_get("/v1/limited", self.limited)
        app.router.add_post("/v1/unsafe", self.unsafe)
        app.router.add_get("/v1/leaky", self.leaky)
        app.router.add_get("/v1/drip", self.drip)
        app.router.add_get("/v1/big", self.big)
        app.router.add_get("/v1/moved", self.moved)
        app.router.add_get("/files/out.bin", self.file)

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "acme-1"}]})

    async def create(self, request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "overloaded"}}, status=503)

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"id": "late"})

    async def flaky(self, request: web.Request) -> web.Response:
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.Response(status=502, text="bad gateway")
        return web.json_response({"ok": True})

    async def limited(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "rate limited"}, status=429, headers={"Retry-After": "0"})

    async def unsafe(self, request: web.Request) -> web.Response:
        error = {
            "code": "content_policy_violation",
            "message": "Your request was rejected by the safety system.",
        }
        return web.json_response({"error": error}, status=400)

    async def leaky(self, request: web.Request) -> web.Response:
        words = f"Incorrect API key provided: {request.headers.get('Authorization', '')}"
        return web.json_response({"error": {"message": words}}, status=401)

    async def drip(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"first")
        # The second part is sent only once the client has shown it got the first.
        await asyncio.to_thread(self.release.wait, 10)
        await response.write(b"second")
        await response.write_eof()
        return response

    async def big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(BIG)})
        await response.prepare(request)
        block = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(BIG // MIB):
            await response.write(block)
        await response.write_eof()
        return response

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def file(self, request: web.Request) -> web.Response:
        return web.Response(body=b"stored bytes")


@pytest.fixture
def acme() -> FakeVendor:
    with Acme() as fake:
        yield fake


@pytest.fixture
def storage() -> FakeVendor:
    """Another host (another port is another origin): where a vendor's outputs are stored."""
    with Acme() as fake:
        yield fake


def _client(fake: FakeVendor, vendor: Vendor = ACME, **kwargs: float) -> VendorHttp:
    return VendorHttp(vendor, KEY, f"{fake.url}/v1", backoff_s=0.01, **kwargs)  # type: ignore[arg-type]


async def _failure(call: object) -> PrizmError:
    with pytest.raises(PrizmError) as raised:
        await call  # type: ignore[misc]
    return raised.value


@pytest.mark.parametrize(
    ("vendor", "header", "value"),
    [
        (ACME, "Authorization", f"Bearer {KEY}"),
        (
            Vendor("fal", "FAL_KEY", "FAL_BASE_URL", "https://x", auth_scheme="Key"),
            "Authorization",
            f"Key {KEY}",
        ),
        (Vendor("el", "EL_KEY", "EL_BASE_URL", "https://x", "xi-api-key", ""), "xi-api-key", KEY),
    ],
)
async def test_the_key_goes_in_the_vendors_auth_header(
    acme: FakeVendor, vendor: Vendor, header: str, value: str
) -> None:
    http = _client(acme, vendor)
    response = await http.request("GET", "/models", paid=False)
    await http.aclose()
    assert response.json() == {"data": [{"id": "acme-1"}]}
    (call,) = acme.requests("GET", "/v1/models")
    assert call.headers[header] == value


async def test_a_download_from_another_host_gets_no_key(acme: FakeVendor, storage: FakeVendor) -> None:
    http = _client(acme)
    direct = b"".join([chunk async for chunk in http.download(f"{storage.url}/files/out.bin")])
    redirected = b"".join([chunk async for chunk in http.download(f"/moved?to={storage.url}/files/out.bin")])
    await http.aclose()
    assert direct == redirected == b"stored bytes"
    assert "Authorization" in acme.requests("GET", "/v1/moved")[0].headers
    served = storage.requests("GET", "/files/out.bin")
    assert len(served) == 2 and all("Authorization" not in call.headers for call in served)
    assert all(KEY not in str(call.headers) for call in served)


async def test_a_paid_request_that_failed_is_never_resent(acme: FakeVendor) -> None:
    http = _client(acme)
    error = await _failure(http.request("POST", "/jobs", json={"prompt": "a cat"}))
    await http.aclose()
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE)
    assert "overloaded" in error.message
    assert len(acme.requests("POST", "/v1/jobs")) == 1


async def test_a_paid_request_that_timed_out_is_not_resent(acme: FakeVendor) -> None:
    http = _client(acme)
    error = await _failure(http.request("POST", "/slow", json={}, timeout=0.3))
    await http.aclose()
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE)
    assert "ReadTimeout" in error.message
    assert len(acme.requests("POST", "/v1/slow")) == 1


async def test_an_unpaid_request_is_retried_a_bounded_number_of_times(acme: FakeVendor) -> None:
    assert isinstance(acme, Acme)
    http = _client(acme, retries=3)
    acme.failures_left = 2
    assert (await http.request("GET", "/flaky", paid=False)).json() == {"ok": True}
    assert len(acme.requests("GET", "/v1/flaky")) == 3
    acme.failures_left = 10
    error = await _failure(http.request("GET", "/flaky", paid=False))
    await http.aclose()
    assert error.reason == Reason.UPSTREAM_UNAVAILABLE and "HTTP 502" in error.message
    assert len(acme.requests("GET", "/v1/flaky")) == 3 + 4


async def test_a_rate_limit_is_retried_then_mapped_with_retry_info(acme: FakeVendor) -> None:
    http = _client(acme, retries=2)
    error = await _failure(http.request("GET", "/limited", paid=False))
    await http.aclose()
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.UPSTREAM_RATE_LIMITED)
    assert error.retry_after_s == 0.0
    assert len(acme.requests("GET", "/v1/limited")) == 3


async def test_a_failed_poll_of_an_accepted_job_is_a_job_failure(acme: FakeVendor) -> None:
    assert isinstance(acme, Acme)
    acme.failures_left = 10
    http = _client(acme, retries=1)
    error = await _failure(http.request("GET", "/flaky", paid=False, accepted=True))
    await http.aclose()
    assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED)


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = VendorHttp(ACME, KEY, f"http://127.0.0.1:{port}/v1")
    error = await _failure(http.request("POST", "/jobs", json={}))
    await http.aclose()
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE)
    assert "ConnectError" in error.message


async def test_a_content_policy_refusal_is_content_filtered(acme: FakeVendor) -> None:
    http = _client(acme)
    error = await _failure(http.request("POST", "/unsafe", json={"prompt": "x"}))
    await http.aclose()
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, Reason.CONTENT_FILTERED)
    assert "safety system" in error.message


async def test_the_key_echoed_by_the_vendor_is_scrubbed(acme: FakeVendor) -> None:
    http = _client(acme)
    error = await _failure(http.request("GET", "/leaky", paid=False))
    await http.aclose()
    assert error.reason == Reason.UPSTREAM_AUTH_FAILED
    assert "Incorrect API key provided" in error.message
    assert KEY not in str(error) and KEY[-8:] not in error.message


async def test_reconfigure_sends_the_new_key_from_the_next_request(acme: FakeVendor) -> None:
    http = _client(acme)
    http.reconfigure("sk-CANARY-second000000", f"{acme.url}/v1")
    await http.request("GET", "/models", paid=False)
    await http.aclose()
    assert acme.requests("GET", "/v1/models")[0].headers["Authorization"] == "Bearer sk-CANARY-second000000"


async def test_stream_yields_bytes_as_they_arrive(acme: FakeVendor) -> None:
    assert isinstance(acme, Acme)
    http = _client(acme)
    async with http.stream("GET", "/drip", paid=False) as response:
        parts = response.aiter_bytes()
        # Were the body read whole first, this would wait for "second", which waits for us.
        first = await asyncio.wait_for(anext(parts), 5)
        acme.release.set()
        rest = b"".join([part async for part in parts])
    await http.aclose()
    assert (first, rest) == (b"first", b"second")


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


async def test_a_50_mb_download_streams_with_flat_memory(acme: FakeVendor) -> None:
    http = _client(acme)
    total, largest, start, peak = 0, 0, _rss(), 0
    async for chunk in http.download("/big", chunk_bytes=256 * 1024):
        total += len(chunk)
        largest = max(largest, len(chunk))
        peak = max(peak, _rss() - start)
    await http.aclose()
    assert total == BIG
    assert largest <= 256 * 1024
    assert peak < 20 * MIB, f"memory grew by {peak / MIB:.1f} MiB while downloading 50 MiB"


async def test_an_output_url_that_cannot_be_sent_is_a_job_failure(acme: FakeVendor) -> None:
    http = _client(acme)
    with pytest.raises(PrizmError) as raised:
        [chunk async for chunk in http.download("http://cdn.invalid/out\x00.png")]
    await http.aclose()
    assert (raised.value.code, raised.value.reason) == (grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED)
    assert "invalid URL" in raised.value.message
