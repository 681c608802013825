"""Auth end to end: a real router with `auth:`, real providers, real calls with keys and JWTs.

Covers issue 14 points 6 and 7: API keys and JWTs (valid, expired, wrong audience, revoked); each
caller's concurrency, rate and budget limits with RetryInfo; capabilities and providers a caller may
not use; the operator-only control plane and reflection; providers registering with a token; a
non-loopback address refused without auth unless `--insecure`; and no credential in any log line.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.assets import text_asset
from prizm_core.capabilities import capability_by_name
from prizm_core.channels import open_channel
from prizm_core.client import PrizmClient, SyncPrizmClient
from prizm_core.errors import PrizmError
from prizm_core.security.bearer import bearer_interceptors
from prizm_core.security.callers import hash_key, new_key
from provider_servers.contract.polling import wait_until
from tests.support.control import configure
from tests.support.jwts import AUDIENCE, ISSUER, Issuer
from tests.support.processes import ServerProcess, start_provider, start_router

KEYS = {name: new_key() for name in ("alice", "bob", "dave", "ops", "eve", "frank")}
FLEET, OTHER_FLEET = new_key(), new_key()
QUICK = {"events": 1, "output_bytes": 10}
ISSUED = Issuer.fresh()
# Every credential handed out, to look for in the logs at the end.
SECRETS: list[str] = [*KEYS.values(), FLEET, OTHER_FLEET]


def _auth_section(jwks: Path) -> dict[str, Any]:
    keys = [{"caller": name, "sha256": hash_key(key)} for name, key in KEYS.items() if name != "eve"]
    keys.append({"caller": "alice", "sha256": hash_key(KEYS["eve"]), "revoked": True})
    return {
        "api_keys": keys,
        "registration_tokens": [
            {"name": "fleet", "sha256": hash_key(FLEET)},
            {"name": "other-fleet", "sha256": hash_key(OTHER_FLEET)},
        ],
        "jwt": {"jwks_file": str(jwks), "issuer": ISSUER, "audience": AUDIENCE},
        "callers": {
            "alice": {"capabilities": ["text-to-text"], "max_concurrent_jobs": 1},
            "bob": {"requests_per_minute": 3},
            "carol": {"cost_budget_per_day": {"USD": 1.0}, "providers": ["synthetic"]},
            "dave": {"providers": ["piper"]},
            "ops": {"operator": True},
            "frank": {"capabilities": ["text-to-audio"]},
        },
    }


@pytest.fixture(scope="module", name="provider")
def _provider() -> Iterator[ServerProcess]:
    server = start_provider("synthetic")
    yield server
    server.stop()


@pytest.fixture(scope="module", name="router")
def _router(tmp_path_factory: pytest.TempPathFactory, provider: ServerProcess) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("auth")
    jwks = ISSUED.write_jwks(folder / "jwks.json")
    config = {"providers": [{"address": provider.address}], "auth": _auth_section(jwks)}
    (folder / "router.yaml").write_text(json.dumps(config))
    server = start_router(folder / "router.yaml")
    yield server
    server.stop()


@pytest.fixture(name="mesh")
async def _mesh(router: ServerProcess) -> AsyncIterator[ServerProcess]:
    """The router once its provider is routable (asked with the operator's key)."""
    async with PrizmClient(router.address, api_key=KEYS["ops"]) as client:

        async def serving() -> bool:
            return any(e.state == router_pb.ENDPOINT_STATE_SERVING for e in await client.list_providers())

        await wait_until(serving, 60, interval=0.05)
    yield router


async def _refusal(call: Awaitable[Any]) -> PrizmError:
    with pytest.raises((PrizmError, grpc.aio.AioRpcError)) as refused:
        await call
    error = refused.value
    error = PrizmError.from_rpc_error(error) if isinstance(error, grpc.aio.AioRpcError) else error
    assert not any(secret in error.message for secret in SECRETS)
    return error


def _client(router: ServerProcess, credential: str | None) -> PrizmClient:
    return PrizmClient(router.address, api_key=credential or "", max_attempts=1)


async def test_keys_and_jwts_valid_missing_revoked_expired_and_for_another_audience(
    mesh: ServerProcess,
) -> None:
    async with _client(mesh, KEYS["alice"]) as alice:
        result = await alice.run("text-to-text", "hello", options=QUICK, timeout=10)
    assert result.outputs[0].data == b"hellohello"
    carol_jwt = ISSUED.token("carol")
    async with _client(mesh, carol_jwt) as carol:
        assert [m.id for m in await carol.list_models("text-to-text")] == ["synthetic-v1"]
    refusals = {}
    for name, credential in (
        ("missing", None),
        ("revoked", KEYS["eve"]),
        ("unknown", new_key()),
        ("expired", ISSUED.token("carol", lifetime_s=-5)),
        ("audience", ISSUED.token("carol", aud="someone-else")),
    ):
        async with _client(mesh, credential) as client:
            error = await _refusal(client.list_providers())
        assert error.code == grpc.StatusCode.UNAUTHENTICATED, name
        refusals[name] = error.reason
    assert refusals == {
        "missing": "CREDENTIALS_MISSING",
        "revoked": "CREDENTIALS_REVOKED",
        "unknown": "CREDENTIALS_INVALID",
        "expired": "CREDENTIALS_EXPIRED",
        "audience": "CREDENTIALS_INVALID",
    }
    # A method the router does not have: a stranger is not even told so.
    stranger = await _call_as(mesh.address, new_key(), _unknown_method)
    known = await _call_as(mesh.address, KEYS["alice"], _unknown_method)
    assert stranger is not None and stranger.code == grpc.StatusCode.UNAUTHENTICATED
    assert known is not None and known.code == grpc.StatusCode.UNIMPLEMENTED
    # Probes carry no credential and need none.
    async with open_channel(mesh.address, None) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_caller_over_its_concurrency_is_refused_with_retry_info(mesh: ServerProcess) -> None:
    async with _client(mesh, KEYS["alice"]) as alice, _client(mesh, KEYS["ops"]) as ops:
        slow = asyncio.create_task(
            alice.run("text-to-text", "x", options={"events": 40, "interval_ms": 100}, timeout=30)
        )
        try:

            async def in_flight() -> bool:
                return sum(e.in_flight for e in await ops.list_providers()) == 1

            await wait_until(in_flight, 10, interval=0.02)
            error = await _refusal(alice.run("text-to-text", "y", options=QUICK, timeout=10))
            assert (error.code, error.reason) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "CALLER_CONCURRENCY_EXCEEDED",
            )
            assert error.retry_after_s == pytest.approx(0.5)
            # Another caller is not held back by alice's limit.
            result = await ops.run("text-to-text", "ok", options=QUICK, timeout=10)
            assert result.outputs[0].data == b"okokokokok"
        finally:
            slow.cancel()


async def test_a_caller_over_its_request_rate_is_refused_with_retry_info(mesh: ServerProcess) -> None:
    async with _client(mesh, KEYS["bob"]) as bob:
        for _ in range(3):
            assert await bob.list_models("text-to-text")
        error = await _refusal(bob.list_models("text-to-text"))
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "CALLER_RATE_LIMITED")
    # Three a minute: the next token comes 20 s after the first was taken, less the time since.
    assert error.retry_after_s is not None and 15.0 < error.retry_after_s <= 20.0


async def test_a_caller_over_its_daily_budget_is_refused_until_utc_midnight(
    mesh: ServerProcess, provider: ServerProcess
) -> None:
    async def job(client: PrizmClient) -> float:
        return (await client.run("text-to-text", "x", options=QUICK, timeout=10)).cost.amount

    await configure(provider.address, price_per_request="0.4")
    try:
        async with _client(mesh, ISSUED.token("carol", algorithm="ES256")) as carol:
            assert [round(await job(carol), 6) for _ in range(2)] == [0.4, 0.4]
            # 0.8 of 1.0 spent: a job estimated at 0.4 would overshoot, and is refused before it runs.
            estimated = await _refusal(job(carol))
            await configure(provider.address, price_per_request="0.2")
            assert round(await job(carol), 6) == 0.2  # exactly the budget
            spent = await _refusal(job(carol))  # nothing left, whatever the estimate
    finally:
        await configure(provider.address, price_per_request="0")
    now = datetime.datetime.now(datetime.UTC)
    midnight = datetime.datetime.combine(
        now.date() + datetime.timedelta(days=1), datetime.time(), datetime.UTC
    )
    for error in (estimated, spent):
        assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "CALLER_BUDGET_EXCEEDED")
        assert error.metadata == {"currency": "USD"}
        assert error.retry_after_s == pytest.approx((midnight - now).total_seconds(), abs=30)
    assert "estimate of 0.4 USD is more than the 0.2 USD left" in estimated.message
    assert spent.message == "caller carol has spent its budget of 1 USD for today (UTC)"


async def test_capabilities_and_providers_a_caller_may_not_use_are_denied(mesh: ServerProcess) -> None:
    async with _client(mesh, KEYS["alice"]) as alice:
        error = await _refusal(alice.run("text-to-audio", "hello", timeout=10))
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "CAPABILITY_NOT_ALLOWED")
    pinned = router_pb.RoutingHints(provider="synthetic")
    async with _client(mesh, KEYS["dave"]) as dave:
        error = await _refusal(dave.run("text-to-text", "x", options=QUICK, routing=pinned, timeout=10))
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PROVIDER_NOT_ALLOWED")
    assert error.message == "caller dave may use only providers: piper"


async def _call_as(
    router: str, credential: str, call: Callable[[grpc.aio.Channel], Awaitable[Any]]
) -> PrizmError | None:
    async with open_channel(router, None, interceptors=bearer_interceptors(credential)) as channel:
        try:
            await call(channel)
        except grpc.aio.AioRpcError as exc:
            error = PrizmError.from_rpc_error(exc)
            assert not any(secret in error.message for secret in SECRETS)
            return error
    return None


async def _unknown_method(channel: grpc.aio.Channel) -> bytes:
    call = channel.unary_unary("/prizm.v1.RouterService/Nothing\x01")
    return bytes(await call(b"", timeout=5))


def _deregister(address: str) -> Callable[[grpc.aio.Channel], Awaitable[Any]]:
    request = router_pb.DeregisterProviderRequest(address=address)
    return lambda channel: router_grpc.RouterServiceStub(channel).DeregisterProvider(request, timeout=5)


async def _registered(router: str) -> list[str]:
    async with PrizmClient(router, api_key=KEYS["ops"]) as ops:
        return [
            e.address
            for e in await ops.list_providers()
            if e.source == router_pb.DISCOVERY_SOURCE_REGISTERED
            and e.state == router_pb.ENDPOINT_STATE_SERVING
        ]


async def test_only_an_operator_or_its_own_token_deregisters_a_provider(mesh: ServerProcess) -> None:
    joined = start_provider("synthetic", "--register", mesh.address, env={"PRIZM_REGISTRATION_TOKEN": FLEET})
    stranger = start_provider("synthetic", "--register", mesh.address)  # no token
    try:
        await wait_until(lambda: _has(mesh.address, joined.address), 30, interval=0.1)
        denied = await _call_as(mesh.address, KEYS["alice"], _deregister(joined.address))
        assert denied is not None
        assert (denied.code, denied.reason) == (grpc.StatusCode.PERMISSION_DENIED, "OPERATOR_ONLY")
        taken = await _call_as(mesh.address, OTHER_FLEET, _deregister(joined.address))
        assert taken is not None and taken.reason == "ENDPOINT_NOT_OWNED"
        listing = await _call_as(
            mesh.address,
            FLEET,
            lambda c: router_grpc.RouterServiceStub(c).ListProviders(
                router_pb.ListProvidersRequest(), timeout=5
            ),
        )
        assert listing is not None and listing.reason == "REGISTRATION_ONLY"
        assert await _call_as(mesh.address, KEYS["ops"], _deregister(joined.address)) is None
        assert joined.address not in await _registered(mesh.address)
        # The provider without a token was refused every time and never joined.
        assert stranger.address not in await _registered(mesh.address)
        await wait_until(lambda: _logged(stranger, "UNAUTHENTICATED"), 10, interval=0.1)
    finally:
        joined.stop()
        stranger.stop()


async def _has(router: str, address: str) -> bool:
    return address in await _registered(router)


async def _logged(server: ServerProcess, text: str) -> bool:
    return text in server.log_text()


async def test_configure_and_reflection_need_an_operator(mesh: ServerProcess) -> None:
    def configure_router(channel: grpc.aio.Channel) -> Awaitable[Any]:
        stub = provider_grpc.ProviderServiceStub(channel)
        return stub.Configure(provider_pb.ConfigureRequest(), timeout=5)

    async def services(channel: grpc.aio.Channel) -> None:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for answer in stub.ServerReflectionInfo(iter([request]), timeout=5):
            names.extend(s.name for s in answer.list_services_response.service)

    names: list[str] = []
    denied = await _call_as(mesh.address, KEYS["alice"], configure_router)
    assert denied is not None and (denied.code, denied.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "OPERATOR_ONLY",
    )
    assert await _call_as(mesh.address, KEYS["ops"], configure_router) is None
    denied = await _call_as(mesh.address, KEYS["alice"], services)
    assert denied is not None and (denied.code, denied.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "OPERATOR_ONLY",
    )
    assert names == []
    assert await _call_as(mesh.address, KEYS["ops"], services) is None
    assert "prizm.v1.RouterService" in names


async def test_the_cli_sends_prizm_api_key_and_never_prints_it(mesh: ServerProcess) -> None:
    async def providers(key: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "prizm_core.cli", "--router", mesh.address, "providers"]
        env = {**os.environ, "PRIZM_API_KEY": key}
        return await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, timeout=60, env=env, check=False
        )

    revoked, listed = await asyncio.gather(providers(KEYS["eve"]), providers(KEYS["ops"]))
    assert revoked.returncode == 1
    assert revoked.stderr.startswith("error: UNAUTHENTICATED CREDENTIALS_REVOKED: this API key was revoked")
    assert listed.returncode == 0, listed.stderr
    assert "synthetic" in listed.stdout
    for ran in (revoked, listed):
        assert not any(secret in ran.stdout + ran.stderr for secret in SECRETS)


def test_the_sync_client_sends_its_api_key(router: ServerProcess) -> None:
    with SyncPrizmClient(router.address, api_key=KEYS["ops"]) as ops:
        assert len(ops.list_providers()) == 1
    with SyncPrizmClient(router.address, api_key=KEYS["eve"]) as eve, pytest.raises(PrizmError) as refused:
        eve.list_providers()
    assert refused.value.reason == "CREDENTIALS_REVOKED"


def test_a_router_without_auth_listens_on_loopback_only_unless_insecure() -> None:
    command = [sys.executable, "-m", "prizm_core.cli", "router", "--listen", "0.0.0.0:0"]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: refusing to listen on 0.0.0.0 with auth off")
    assert "--insecure" in refused.stderr
    exposed = start_router(None, "--listen", "0.0.0.0:0", "--insecure")
    try:
        assert exposed.address.startswith("0.0.0.0:")
    finally:
        exposed.stop()
    assert "auth is off and --insecure is set: listening on 0.0.0.0" in exposed.log_text()
    local = start_router()
    local.stop()
    assert "auth is off: listening on loopback (127.0.0.1) only" in local.log_text()


def test_no_credential_appears_in_any_log(router: ServerProcess, provider: ServerProcess) -> None:
    # Runs last in this module: after every key, token and JWT above went through the router.
    logs = router.log_text() + provider.log_text()
    # The refusals were logged (the first ten of each ten seconds; the rest counted) ...
    assert (
        "refused a call to /prizm.v1.RouterService/ListProviders: UNAUTHENTICATED CREDENTIALS_MISSING" in logs
    )
    leaked = [secret[:10] for secret in SECRETS if secret in logs or secret[6:20] in logs]
    assert leaked == []  # ... without what was refused


async def test_a_key_revoked_in_the_keys_file_is_refused_without_a_restart(tmp_path: Path) -> None:
    key = new_key()
    SECRETS.append(key)
    entry = {"caller": "alice", "sha256": hash_key(key)}
    (tmp_path / "keys.yaml").write_text(json.dumps({"api_keys": [entry]}), encoding="utf-8")
    auth = {"api_keys_file": "keys.yaml", "callers": {"alice": {}}}
    (tmp_path / "router.yaml").write_text(json.dumps({"auth": auth}), encoding="utf-8")
    router = start_router(tmp_path / "router.yaml")
    try:
        async with _client(router, key) as alice:
            assert await alice.list_providers() == []
            revoked = {"api_keys": [{**entry, "revoked": True}]}
            (tmp_path / "keys.yaml").write_text(json.dumps(revoked), encoding="utf-8")

            async def refused() -> bool:
                try:
                    await alice.list_providers()
                except PrizmError as exc:
                    return exc.reason == "CREDENTIALS_REVOKED"
                return False

            await wait_until(refused, 10, interval=0.2)
        await wait_until(lambda: _logged(router, "keys.yaml"), 10, interval=0.1)  # "reloaded .../keys.yaml"
        assert key not in router.log_text()
    finally:
        router.stop()


def _estimate(capability: str, provider: str = "") -> Callable[[grpc.aio.Channel], Awaitable[Any]]:
    request = router_pb.RouterServiceEstimateCostRequest(
        capability=capability_by_name(capability).value,
        routing=router_pb.RoutingHints(provider=provider),
    )
    request.inputs.add(mime_type="text/plain", data=b"hello", kind=media_pb.MEDIA_KIND_TEXT)
    return lambda channel: router_grpc.RouterServiceStub(channel).EstimateCost(request, timeout=5)


def _validate(capability: str) -> Callable[[grpc.aio.Channel], Awaitable[Any]]:
    request = model_pb.ValidateInputRequest(capability=capability_by_name(capability).value)
    request.inputs.add(mime_type="text/plain", data=b"hello", kind=media_pb.MEDIA_KIND_TEXT)
    return lambda channel: model_grpc.ModelServiceStub(channel).ValidateInput(request, timeout=5)


async def test_catalog_calls_apply_the_callers_allow_lists(mesh: ServerProcess) -> None:
    shown = {}
    for name in ("alice", "dave", "frank", "ops"):
        async with _client(mesh, KEYS[name]) as client:
            shown[name] = [m.id for m in await client.list_models()]
    # synthetic-v1 is text-to-text: dave may use piper only, frank text-to-audio only.
    assert shown == {"alice": ["synthetic-v1"], "dave": [], "frank": [], "ops": ["synthetic-v1"]}
    assert await _call_as(mesh.address, KEYS["alice"], _estimate("text-to-text")) is None
    refusals = {
        "estimate, capability": await _call_as(mesh.address, KEYS["alice"], _estimate("text-to-audio")),
        "estimate, provider": await _call_as(
            mesh.address, KEYS["dave"], _estimate("text-to-text", "synthetic")
        ),
        "validate, capability": await _call_as(mesh.address, KEYS["frank"], _validate("text-to-text")),
    }
    assert {what: (e.code, e.reason) for what, e in refusals.items() if e is not None} == {
        "estimate, capability": (grpc.StatusCode.PERMISSION_DENIED, "CAPABILITY_NOT_ALLOWED"),
        "estimate, provider": (grpc.StatusCode.PERMISSION_DENIED, "PROVIDER_NOT_ALLOWED"),
        "validate, capability": (grpc.StatusCode.PERMISSION_DENIED, "CAPABILITY_NOT_ALLOWED"),
    }


async def test_a_stream_refused_for_its_credential_still_gets_its_request_id(mesh: ServerProcess) -> None:
    request = model_pb.TransformRequest(
        capability=media_pb.CAPABILITY_TEXT_TO_TEXT, inputs=[text_asset("hi")]
    )
    async with grpc.aio.insecure_channel(mesh.address) as channel:
        call = model_grpc.ModelServiceStub(channel).Transform(
            request, metadata=(("x-request-id", "req-no-key"),), timeout=10
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            _ = [event async for event in call]
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    trailing = {k: v for k, v in refused.value.trailing_metadata() or () if not k.endswith("-bin")}
    assert trailing["x-request-id"] == "req-no-key"
