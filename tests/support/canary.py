"""The canary sweep's tools: secrets in the forms they could leak in, and an OTLP collector that keeps
every span it is sent whole, to be searched as text."""

from __future__ import annotations

import base64
import secrets
import urllib.parse
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as otlp_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as otlp_grpc

from provider_servers.openai.fake import FakeOpenAI

__all__ = ["Collector", "EchoingOpenAI", "canary_token", "leaks", "pem_secrets", "secret_forms"]


def canary_token() -> str:
    """A Prizm API key or registration token that is a canary: `prizm_CANARY-` and random text."""
    return f"prizm_CANARY-{secrets.token_urlsafe(24)}"


def secret_forms(name: str, value: str) -> dict[str, str]:
    """`value` as it could leak: itself, base64 (standard and URL-safe, unpadded) and URL-encoded.

    Returns:
        Each form by a label (`NAME`, `NAME (base64)`...), those that differ from the value itself.
    """
    raw = value.encode()
    forms = {
        name: value,
        f"{name} (base64)": base64.b64encode(raw).decode().rstrip("="),
        f"{name} (base64url)": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        f"{name} (url-encoded)": urllib.parse.quote(value, safe=""),
        f"{name} (form-encoded)": urllib.parse.quote_plus(value),
    }
    return {label: form for label, form in forms.items() if label == name or form != value}


def pem_secrets(folder: Path) -> dict[str, str]:
    """The body lines of the private keys (`*.key`, PEM) in `folder`: any one of them in the output
    is a key leaking."""
    found = {}
    for path in sorted(folder.glob("*.key")):
        lines = [line for line in path.read_text().splitlines() if line and not line.startswith("-----")]
        for number, line in enumerate(lines):
            if len(line) >= 32:  # the last line of a body can be short enough to occur by chance
                found[f"{path.name} line {number + 1}"] = line
    return found


def leaks(secrets_by_name: dict[str, str], text: str) -> list[str]:
    """The names of the secrets found in `text` (names only: a failing test must not print them)."""
    return sorted(name for name, value in secrets_by_name.items() if value in text)


class Collector(otlp_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace collector on loopback that keeps every export request as it came."""

    def __init__(self) -> None:
        self.requests: list[otlp_pb.ExportTraceServiceRequest] = []
        self.server = grpc.aio.server()
        otlp_grpc.add_TraceServiceServicer_to_server(self, self.server)  # type: ignore[no-untyped-call]
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:PORT`, for `tracing.otlp_endpoint` or `OTEL_EXPORTER_OTLP_ENDPOINT`."""
        return f"http://127.0.0.1:{self.port}"

    async def Export(  # noqa: N802 - gRPC method name
        self, request: otlp_pb.ExportTraceServiceRequest, context: Any
    ) -> otlp_pb.ExportTraceServiceResponse:
        """Keeps `request`."""
        self.requests.append(request)
        return otlp_pb.ExportTraceServiceResponse()

    def spans(self) -> list[tuple[str, str]]:
        """`(service.name, span name)` of every span received."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    ),
                    "",
                )
                found += [(service, s.name) for scope in resource_spans.scope_spans for s in scope.spans]
        return found

    def text(self) -> str:
        """Every request in protobuf text format: names, attributes, events, links and resources."""
        return "\n".join(str(request) for request in self.requests)


class EchoingOpenAI(FakeOpenAI):
    """OpenAI's fake, worse than OpenAI: a key it refuses is echoed in the error body (as the fake
    does), and also alone in a header and in a URL of another header."""

    def _refusal(self, request: web.Request) -> web.Response | None:
        refused = super()._refusal(request)
        if refused is not None and refused.status == 401:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            refused.headers["x-echo-key"] = given
            refused.headers["link"] = f"<{self.url}/v1/keys?api_key={given}>; rel=help"
        return refused
