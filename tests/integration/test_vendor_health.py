"""A remote provider's health follows its vendor's free endpoint: a refused key takes it out of
routing with `UPSTREAM_AUTH_FAILED` in its detail, the rest of the mesh unaffected, and it comes
back once it is given a key that works (`Configure`); the probe never makes a paid call."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
import pytest
from aiohttp import web
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from prizm_core.serving import ServeSettings
from provider_servers.remote import FakeVendor, RemoteProvider, Vendor
from provider_servers.sdk import Capability, Event, Job, MediaKind, ModelSpec, Output
from provider_servers.sdk.harness import ProviderSettings, serve
from tests.support.control import configure, status
from tests.support.mesh import wait_until
from tests.support.processes import start_provider, start_router, write_config

KEY = "sk-CANARY-0e5b2d9f7c31a846"
NEW_KEY = "sk-CANARY-77d2c4a19b0e5f63"
ACME = Vendor("acme", "ACME_API_KEY", "ACME_BASE_URL", "https://api.acme.invalid/v1")
ECHO = ModelSpec(
    id="acme-echo",
    display_name="Acme echo",
    description="Says the text back, upper-cased, at Acme.",
    capabilities=(Capability.TEXT_TO_TEXT,),
    output_mime_type="text/plain",
)


class AcmeVendor(FakeVendor):
    """A free model list whose answer the test sets, and one paid endpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.good_key = KEY

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/echo", self.echo)

    async def models(self, request: web.Request) -> web.Response:
        sent = request.headers.get("Authorization", "")
        if sent != f"Bearer {self.good_key}":
            error = {"message": f"Incorrect API key provided: {sent.removeprefix('Bearer ')}"}
            return web.json_response({"error": error}, status=401)
        return web.json_response({"data": [{"id": "acme-echo"}]})

    async def echo(self, request: web.Request) -> web.Response:
        return web.json_response({"text": (await request.json())["text"].upper()})


class AcmeProvider(RemoteProvider):
    id = "acme"
    display_name = "Acme"
    vendor = ACME
    health_path = "/models"
    health_interval_s = 0.05

    def models(self) -> Sequence[ModelSpec]:
        return [ECHO]

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        response = await self.http.request("POST", "/echo", json={"text": job.inputs[0].text()})
        yield Output(MediaKind.TEXT, "text/plain", response.json()["text"].encode())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _state(address: str) -> tuple[int, str]:
    answer = await status(address)
    return answer.state, answer.detail


async def test_a_refused_key_takes_the_provider_out_until_it_works_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with AcmeVendor() as fake:
        provider = AcmeProvider.from_environment({"ACME_API_KEY": KEY, "ACME_BASE_URL": f"{fake.url}/v1"})
        settings = ProviderSettings(serve=ServeSettings(port=_free_port(), grace_s=1.0))
        address = f"127.0.0.1:{settings.serve.port}"
        stop = asyncio.Event()
        served = asyncio.create_task(serve(provider, settings, stop))
        synthetic = start_provider("synthetic")
        router = start_router(write_config(tmp_path / "router.yaml", [address, synthetic.address]))
        try:
            await _refused_then_recovered(fake, address, router.address)
        finally:
            router.stop()
            synthetic.stop()
            stop.set()
            await served
    assert KEY not in caplog.text and NEW_KEY not in caplog.text
    assert fake.requests("POST", "/v1/echo")[-1].headers["Authorization"] == f"Bearer {NEW_KEY}"
    paid = [call for call in fake.calls if call.path != "/v1/models"]
    assert [(call.method, call.path) for call in paid] == [("POST", "/v1/echo")] * 2, "only the jobs paid"
    assert {call.method for call in fake.calls if call.path == "/v1/models"} == {"GET"}


async def _endpoint(client: PrizmClient, provider: str) -> router_pb.ProviderEndpoint:
    return next(e for e in await client.list_providers() if e.provider.id == provider)


async def _refused_then_recovered(fake: AcmeVendor, address: str, router: str) -> None:
    running = provider_pb.SERVICE_STATE_RUNNING
    await wait_until(lambda: _serving_at(address, running), 30, interval=0.05)
    assert (await _state(address))[1].startswith("acme answers")
    async with PrizmClient(router) as client:
        hint = router_pb.RoutingHints(provider="acme")
        await wait_until(lambda: _routable(client, "acme"), 30, interval=0.05)
        assert (await client.run("text-to-text", "hello", routing=hint, timeout=30)).outputs[
            0
        ].text() == "HELLO"

        fake.good_key = NEW_KEY  # the vendor revoked the key the provider has
        await wait_until(lambda: _serving_at(address, provider_pb.SERVICE_STATE_STOPPED), 30, interval=0.05)
        _, detail = await _state(address)
        assert detail.startswith("UPSTREAM_AUTH_FAILED: acme refused the key (HTTP 401)"), detail
        assert "Incorrect API key provided" in detail and KEY not in detail and NEW_KEY not in detail
        await wait_until(lambda: _not_routable(client, "acme"), 30, interval=0.05)
        assert "UPSTREAM_AUTH_FAILED" in (await _endpoint(client, "acme")).detail
        with pytest.raises(PrizmError) as refused:
            await client.run("text-to-text", "hello", routing=hint, timeout=30)
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
        # The rest of the mesh is unaffected: synthetic still takes text-to-text.
        other = await client.run("text-to-text", "still here", timeout=30)
        assert other.outputs[0].text().startswith("still herestill here")
        assert (await _endpoint(client, "synthetic")).state == router_pb.ENDPOINT_STATE_SERVING

        await configure(address, api_key=NEW_KEY)
        await wait_until(lambda: _routable(client, "acme"), 30, interval=0.05)
        assert (await client.run("text-to-text", "back", routing=hint, timeout=30)).outputs[
            0
        ].text() == "BACK"


async def _serving_at(address: str, state: int) -> bool:
    return (await _state(address))[0] == state


async def _routable(client: PrizmClient, provider: str) -> bool:
    endpoints = await client.list_providers()
    return any(e.provider.id == provider and e.state == router_pb.ENDPOINT_STATE_SERVING for e in endpoints)


async def _not_routable(client: PrizmClient, provider: str) -> bool:
    return not await _routable(client, provider)
