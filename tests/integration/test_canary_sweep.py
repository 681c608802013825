"""Issue 14 point 8 and S2 of RELIABILITY.md, with everything on at once: no secret shows in any log
line, `/metrics`, exported span or CLI output.

One mesh: a router with `auth:` (an API key, JWTs, a registration token) serving TLS, with metrics,
OTLP tracing and JSON logs; the OpenAI provider (a remote one) serving TLS with the same, registered
with the token, in front of its fake vendor holding a canary key. Jobs succeed, fail at the vendor
(which echoes the key in its error body, a header and a URL), are refused (an unknown key, an expired
JWT) and are cancelled; then the CLI. Every secret (vendor key, API keys, token, JWTs and their
signatures, each private key's PEM body), plain, base64 and URL-encoded, is looked for in all of it,
and each source must have been seen to hold a fair amount, so the sweep cannot pass by seeing nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.channels import open_channel
from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from prizm_core.security.callers import hash_key
from prizm_core.security.certs import make_mesh
from prizm_core.security.tls import ClientTls
from provider_servers.contract.polling import wait_until
from provider_servers.openai.fake import FakeOpenAI
from tests.support.canary import Collector, EchoingOpenAI, canary_token, leaks, pem_secrets, secret_forms
from tests.support.jwts import AUDIENCE, ISSUER, Issuer
from tests.support.metrics import free_port, metrics_text
from tests.support.processes import ServerProcess, start_provider, start_router
from tests.support.remote import canary_key

# A key given at runtime that the vendor refuses: not key-shaped, so only its value can redact it.
REFUSED_KEY = f"vendor-CANARY-{secrets.token_hex(12)}"

pytestmark = pytest.mark.timeout(120)

CHAT = "/chat/completions"
MODEL = "gpt-4o-mini"
PROMPT = "hello there"


@dataclass
class Sweep:
    """The mesh of the sweep, its credentials, and what each source said."""

    folder: Path
    fake: FakeOpenAI
    collector: Collector
    credentials: dict[str, str]
    router: ServerProcess
    provider: ServerProcess
    router_metrics: int
    provider_metrics: int
    pem: dict[str, str] = field(default_factory=dict)  # the private keys' lines, read at the start
    said: dict[str, list[str]] = field(default_factory=dict)

    def note(self, source: str, text: str) -> None:
        """Keeps `text` as said by `source` (logs, metrics, spans, cli, errors)."""
        self.said.setdefault(source, []).append(text)

    def client(self, credential: str) -> PrizmClient:
        """A client of the router over TLS with `credential`, trying each job once."""
        tls = ClientTls(self.folder / "ca.pem")
        return PrizmClient(self.router.address, tls=tls, api_key=credential, max_attempts=1)

    def secrets(self) -> dict[str, str]:
        """Every secret of the run, in every form it could leak in, by a name safe to print."""
        found: dict[str, str] = {}
        every = {**self.credentials, "vendor key": self.fake.api_key, "refused vendor key": REFUSED_KEY}
        for name, value in every.items():
            found |= secret_forms(name, value)
            if "jwt" in name:
                found[f"{name} (signature)"] = value.rsplit(".", 1)[1]
        return found | self.pem


def _router_config(folder: Path, credentials: dict[str, str], jwks: Path, metrics: int, otlp: str) -> Path:
    auth = {
        "api_keys": [{"caller": "sweeper", "sha256": hash_key(credentials["api key"])}],
        "registration_tokens": [{"name": "fleet", "sha256": hash_key(credentials["registration token"])}],
        "jwt": {"jwks_file": str(jwks), "issuer": ISSUER, "audience": AUDIENCE},
        "callers": {"sweeper": {"operator": True}, "jwt-caller": {}},
    }
    config = {
        "auth": auth,
        "tls": {"cert": "router.pem", "key": "router.key", "ca": "ca.pem"},
        "metrics": {"port": metrics},
        "tracing": {"otlp_endpoint": otlp},
    }
    path = folder / "router.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.fixture(name="sweep")
async def _sweep(tmp_path: Path) -> AsyncIterator[Sweep]:
    make_mesh(tmp_path)
    issuer = Issuer.fresh()
    credentials = {
        "api key": canary_token(),
        "unknown api key": canary_token(),
        "registration token": canary_token(),
        "jwt": issuer.token("jwt-caller"),
        "expired jwt": issuer.token("jwt-caller", lifetime_s=-5),
    }
    collector = Collector()
    await collector.server.start()
    ports = free_port(), free_port()
    config = _router_config(
        tmp_path, credentials, issuer.write_jwks(tmp_path / "jwks.json"), ports[0], collector.endpoint
    )
    with EchoingOpenAI(canary_key()) as fake:
        # DEBUG: the level where secrets usually slip out (request dumps, library internals).
        router = start_router(config, "--log-format", "json", "--log-level", "DEBUG")
        provider: ServerProcess | None = None
        try:
            env = {
                "OPENAI_API_KEY": fake.api_key,
                "OPENAI_BASE_URL": fake.base_url,
                "PRIZM_REGISTRATION_TOKEN": credentials["registration token"],
                "PRIZM_TLS_CA": str(tmp_path / "ca.pem"),  # to register with the router
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            }
            flags = ["--log-format", "json", "--log-level", "DEBUG", "--metrics-port", str(ports[1])]
            flags += ["--register", router.address, "--tls-cert", str(tmp_path / "provider.pem")]
            flags += ["--tls-key", str(tmp_path / "provider.key")]
            provider = start_provider("openai", *flags, env=env)
            pem = pem_secrets(tmp_path)
            yield Sweep(tmp_path, fake, collector, credentials, router, provider, *ports, pem)
        finally:
            # In threads: the collector answers on this loop while the processes flush at exit.
            for server in (provider, router):
                if server is not None:
                    await asyncio.to_thread(server.stop)
    await collector.server.stop(None)


async def _refusal(call: Awaitable[Any]) -> PrizmError:
    with pytest.raises((PrizmError, grpc.aio.AioRpcError)) as refused:
        await call
    error = refused.value
    if isinstance(error, grpc.aio.AioRpcError):
        return PrizmError.from_rpc_error(error)
    assert isinstance(error, PrizmError)
    return error


def _said(error: PrizmError) -> str:
    return f"{error!r} {error} {error.metadata} {error.field_violations}"


def _echoing_failures(fake: FakeOpenAI, port: int) -> list[tuple[int, str, dict[str, str]]]:
    """Vendor failures that echo the key: in the message, a URL in it, a header, a redirect's URL
    (a POST's redirect is not followed: it is an error like the others)."""
    key = fake.api_key
    message = f"Invalid request for key {key}, see {fake.url}/help?api_key={key} (Bearer {key})"
    elsewhere = f"http://127.0.0.1:{port}/v1/chat/completions?api_key={key}"
    return [
        (400, message, {"x-echo-key": key, "x-echo-auth": f"Bearer {key}"}),
        (500, message, {"x-echo-key": key, "retry-after": "0"}),
        (307, message, {"location": elsewhere}),
    ]


async def _jobs(sweep: Sweep) -> None:
    """Jobs that succeed, fail at the vendor, are refused and are cancelled."""
    async with sweep.client(sweep.credentials["api key"]) as client:

        async def registered() -> bool:
            return any(e.state == router_pb.ENDPOINT_STATE_SERVING for e in await client.list_providers())

        await wait_until(registered, 30, interval=0.1)
        done = await client.run("text-to-text", PROMPT, model=MODEL, timeout=30)
        assert done.outputs[0].data == f"You said: {PROMPT}".encode()
        reasons = []
        for status, message, headers in _echoing_failures(sweep.fake, free_port()):
            sweep.fake.fail(CHAT, status, message, kind="invalid_request_error", headers=headers)
            error = await _refusal(client.run("text-to-text", PROMPT, model=MODEL, timeout=30))
            assert "Invalid request for key [redacted], see " in error.message  # the echo, scrubbed
            reasons.append(error.reason)
            sweep.note("errors", _said(error))
        assert reasons == ["UPSTREAM_REJECTED", "UPSTREAM_UNAVAILABLE", "UPSTREAM_REJECTED"]
        await _cancelled(sweep, client)
    async with sweep.client(sweep.credentials["jwt"]) as client:
        assert [m.id for m in await client.list_models("text-to-text")] == ["gpt-4o", MODEL]
        done = await client.run("text-to-text", PROMPT, model=MODEL, timeout=30)
        assert done.outputs[0].data == f"You said: {PROMPT}".encode()
    for name in ("unknown api key", "expired jwt"):
        async with sweep.client(sweep.credentials[name]) as client:
            error = await _refusal(client.run("text-to-text", PROMPT, model=MODEL, timeout=30))
        assert error.code == grpc.StatusCode.UNAUTHENTICATED, name
        sweep.note("errors", _said(error))


async def _cancelled(sweep: Sweep, client: PrizmClient) -> None:
    """A job cancelled while the vendor streams its answer: the vendor request is dropped."""
    fake = sweep.fake
    fake.delay_s, fake.answer = 0.2, " ".join(["word"] * 100)
    started = len(fake.requests("POST", "/v1" + CHAT))
    job = asyncio.create_task(client.run("text-to-text", PROMPT, model=MODEL, timeout=30))

    async def streaming() -> bool:
        return len(fake.requests("POST", "/v1" + CHAT)) > started

    await wait_until(streaming, 10)
    await asyncio.sleep(0.5)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job

    async def aborted() -> bool:
        return "/v1" + CHAT in fake.aborted

    await wait_until(aborted, 10)
    fake.delay_s, fake.answer = 0.01, ""


def _prizm(sweep: Sweep, *args: str, key: str = "api key") -> str:
    """What `prizm ARGS` prints (stdout and stderr), as the test's caller over TLS."""
    env = {
        **os.environ,
        "PRIZM_API_KEY": sweep.credentials[key],
        "PRIZM_TLS_CA": str(sweep.folder / "ca.pem"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "prizm_core.cli", "--router", sweep.router.address, *args],
        cwd=sweep.folder,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    return f"$ prizm {' '.join(args)} (exit {done.returncode})\n{done.stdout}{done.stderr}"


async def _cli(sweep: Sweep) -> None:
    """The CLI's output: listings, jobs that work and fail, `top`, the health probe, a refusal."""
    job = ("run", "text-to-text", PROMPT, "--provider", "openai", "--model", MODEL)
    ca = ("--ca", str(sweep.folder / "ca.pem"))
    commands = [
        ("providers",),
        ("providers", "--json"),
        ("models",),
        ("models", "--json"),
        (*job, "-o", "-"),
        (*job, "--json"),
        ("top", "--once", "--interval", "0.2", "--metrics", f"127.0.0.1:{sweep.router_metrics}"),
        ("health-probe", sweep.router.address, *ca),
        ("health-probe", sweep.provider.address, *ca),
    ]
    said = await asyncio.gather(*(asyncio.to_thread(_prizm, sweep, *args) for args in commands))
    assert all("(exit 0)" in text for text in said), said
    assert f"You said: {PROMPT}" in said[4]
    for arguments in ((*job,), (*job, "--json")):
        status, message, headers = _echoing_failures(sweep.fake, 0)[0]
        sweep.fake.fail(CHAT, status, message, headers=headers)
        said.append(await asyncio.to_thread(_prizm, sweep, *arguments))
        assert "(exit 1)" in said[-1], said[-1]
    said.append(await asyncio.to_thread(_prizm, sweep, "providers", key="unknown api key"))
    assert "UNAUTHENTICATED" in said[-1], said[-1]
    for text in said:
        sweep.note("cli", text)


def _json_lines(text: str) -> int:
    count = 0
    for line in text.splitlines():
        try:
            count += isinstance(json.loads(line), dict)
        except ValueError:
            continue
    return count


async def _refused_key(sweep: Sweep) -> None:
    """A key given through `Configure` that the vendor refuses, echoing it: a job fails, the
    provider's health says why, and the listings and `top` show it."""
    async with open_channel(sweep.provider.address, ClientTls(sweep.folder / "ca.pem")) as channel:
        request = provider_pb.ConfigureRequest(settings={"api_key": REFUSED_KEY})
        await provider_grpc.ProviderServiceStub(channel).Configure(request, timeout=10)
    async with sweep.client(sweep.credentials["api key"]) as client:

        async def refused() -> bool:
            return any("UPSTREAM_AUTH_FAILED" in e.detail for e in await client.list_providers())

        await wait_until(refused, 30, interval=0.1)
        # Its only provider is not serving now: the router says why, in the provider's words.
        error = await _refusal(client.run("text-to-text", PROMPT, model=MODEL, timeout=30))
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "NO_HEALTHY_PROVIDER")
        sweep.note("errors", _said(error))
    # The router's key file caught half written: the next handshakes keep the old pair, and the
    # router says why (never with the file's text).
    key = sweep.folder / "router.key"
    lines = key.read_text().splitlines()
    key.write_text("\n".join(lines[: len(lines) // 2 + 1]) + "\n")
    commands = [("providers",), ("providers", "--json")]
    commands.append(("top", "--once", "--interval", "0.2", "--metrics", f"127.0.0.1:{sweep.router_metrics}"))
    said = await asyncio.gather(*(asyncio.to_thread(_prizm, sweep, *args) for args in commands))
    assert "UPSTREAM_AUTH_FAILED" in said[1], said[1]
    # The vendor's echo of the key, redacted, shown as it is (not taken for markup by the table).
    assert "Incorrect API key provided: [redacted]" in said[0], said[0]
    assert "[redacted]" in said[2], said[2]
    for text in said:
        sweep.note("cli", text)


async def test_no_secret_shows_in_logs_metrics_spans_or_cli_output(sweep: Sweep) -> None:
    await _jobs(sweep)
    await _cli(sweep)
    await _refused_key(sweep)
    router_metrics, provider_metrics = (
        metrics_text(sweep.router_metrics),
        metrics_text(sweep.provider_metrics),
    )
    assert 'outcome="Canceled"' in router_metrics and "prizm_provider_jobs_total{" in provider_metrics
    sweep.note("metrics", router_metrics)
    sweep.note("metrics", provider_metrics)
    for server in (sweep.provider, sweep.router):  # the provider first: it deregisters
        assert await asyncio.to_thread(server.stop) == 0
    logs = {"router": sweep.router.log_text(), "provider": sweep.provider.log_text()}
    assert "TLS files of" in logs["router"] and "cannot be used yet" in logs["router"]
    for name, text in logs.items():
        assert _json_lines(text) >= 10, f"{name} wrote {_json_lines(text)} JSON log lines"
        sweep.note("logs", text)
    spans = sweep.collector.spans()
    assert {service for service, _ in spans} >= {"prizm-router", "openai"}, spans
    assert ("openai", "POST") in spans  # the vendor requests' own spans
    sweep.note("spans", sweep.collector.text())
    sizes = {source: sum(map(len, texts)) for source, texts in sweep.said.items()}
    least = {"logs": 5000, "metrics": 20000, "spans": 5000, "cli": 10000, "errors": 500}
    assert all(sizes.get(source, 0) > size for source, size in least.items()), sizes
    every = sweep.secrets()
    assert len(every) > 20
    found = {source: leaks(every, "\n".join(texts)) for source, texts in sweep.said.items()}
    assert {source: names for source, names in found.items() if names} == {}
