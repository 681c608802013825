"""OpenTelemetry traces: the tracer a server uses, the spans of a job's attempts, and their events.

Tracing is on when the config's `tracing:` section or the standard `OTEL_EXPORTER_OTLP_*ENDPOINT`
variables name a collector (or `enabled: true`), and `OTEL_SDK_DISABLED` is not `true`. Off, no
interceptor is installed and every helper here meets a no-op span: caller metadata, including its
`traceparent`, goes on to providers as it came.

On, a process gets one SDK `TracerProvider` (an embedding program or a test may have set one
already; it is used as it is). Spans are exported over OTLP/gRPC in batches; `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)` and `OTEL_EXPORTER_OTLP_*` work as the
OpenTelemetry specification says. The tracer of the call being served is kept in a context
variable, so the relay and HTTP clients find it without it being passed down.

Attributes are ids, names and outcomes only: never an option value, input bytes, a header value or
a secret.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Protocol

import grpc
import pydantic
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from prizm_core.capabilities import capability_info
from prizm_core.telemetry.log_context import forwarded_identity

__all__ = [
    "TRACE_KEYS",
    "Attempt",
    "TracingSettings",
    "active_tracer",
    "annotate",
    "annotate_job",
    "enabled",
    "outcome_of",
    "set_active_tracer",
    "sidecar_environment",
    "span_event",
    "trace_context",
    "tracer_for",
]

Metadata = Sequence[tuple[str, str | bytes]]
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Keys the router writes itself on a provider call when tracing is on: the caller's are replaced.
TRACE_KEYS = ("traceparent", "tracestate")
_ATTEMPT_SPAN = "prizm.v1.ModelService/Transform"

_active: ContextVar[trace.Tracer | None] = ContextVar("prizm_tracer", default=None)


class TracingSettings(pydantic.BaseModel):
    """The `tracing:` section of a router config (providers read the environment only).

    Attributes:
        enabled: True or False forces tracing on or off; unset, it is on when a collector is named
            here or in `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`.
        otlp_endpoint: The OTLP/gRPC collector, e.g. `http://127.0.0.1:4317`.
        sample_ratio: Share of new traces recorded (a caller's sampled flag is followed);
            `OTEL_TRACES_SAMPLER` overrides it.
    """

    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)

    enabled: bool | None = None
    otlp_endpoint: str = ""
    sample_ratio: float = pydantic.Field(default=1.0, ge=0.0, le=1.0)


def enabled(settings: TracingSettings, environ: Mapping[str, str]) -> bool:
    """Whether a process with these settings and environment traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if settings.enabled is not None:
        return settings.enabled
    return bool(settings.otlp_endpoint or any(environ.get(name) for name in _ENDPOINT_VARIABLES))


def _provider(
    settings: TracingSettings, service_name: str, environ: Mapping[str, str]
) -> trace.TracerProvider:
    # Imported here: the SDK and the exporter (its protobuf messages) cost a process not tracing ~50 ms.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased  # noqa: PLC0415

    # OTEL_SERVICE_NAME (read by Resource.create) names the process when set; else the role does.
    named = {} if environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    sampler = (
        None if environ.get("OTEL_TRACES_SAMPLER") else ParentBased(TraceIdRatioBased(settings.sample_ratio))
    )
    provider = TracerProvider(resource=Resource.create(named), sampler=sampler)
    exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint or None)
    provider.add_span_processor(BatchSpanProcessor(exporter))  # flushed by the provider at exit
    return provider


def tracer_for(
    settings: TracingSettings, service_name: str, environ: Mapping[str, str]
) -> trace.Tracer | None:
    """The tracer of a server, or None when tracing is off.

    The first server of a process to trace sets the global tracer provider; later ones (several
    servers in one test process) share it.
    """
    if not enabled(settings, environ):
        return None
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415 - only when tracing

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(_provider(settings, service_name, environ))
    return trace.get_tracer("prizm")


def sidecar_environment(settings: TracingSettings, environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Variables that give a router's sidecar providers its tracing: they read the environment only.

    The sidecar's own `env:` is applied after these, and so wins.
    """
    if settings.enabled is False:
        return (("OTEL_SDK_DISABLED", "true"),)
    if settings.otlp_endpoint and not any(environ.get(name) for name in _ENDPOINT_VARIABLES):
        return (("OTEL_EXPORTER_OTLP_ENDPOINT", settings.otlp_endpoint),)
    return ()


def trace_context(context: otel_context.Context | None = None) -> list[tuple[str, str]]:
    """The W3C `traceparent` (and `tracestate`) of `context` (the current one when None).

    Only these: the propagators would add the caller's `baggage`, which is not ours to pass on.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return [(key, value) for key, value in carrier.items() if key in TRACE_KEYS]


def active_tracer() -> trace.Tracer | None:
    """The tracer of the call being served, if it is traced."""
    return _active.get()


def set_active_tracer(tracer: trace.Tracer | None) -> None:
    """Makes `tracer` the one of the call being served (its interceptor does)."""
    _active.set(tracer)


def outcome_of(code: grpc.StatusCode) -> str:
    """`prizm.outcome` of a call that ended with `code`: `ok` or the code's name in lower case."""
    return code.name.lower()


def annotate(**attributes: str) -> None:
    """Sets `prizm.<name>` attributes on the current span (empty values are left out)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({f"prizm.{name}": value for name, value in attributes.items() if value})


def annotate_job(job_id: str, capability: int, model: str, provider: str = "") -> None:
    """Names the job of the current span: its id, capability (`text-to-text`), model, provider."""
    if not trace.get_current_span().is_recording():
        return  # tracing off: not even the capability's name is looked up
    try:
        name = capability_info(capability).name
    except KeyError:  # refused later with INVALID_ARGUMENT; the span still says what was asked
        name = str(capability)
    annotate(job_id=job_id, capability=name, model=model, provider=provider)


def span_event(name: str, **attributes: str) -> None:
    """Adds the event `name` with `prizm.<key>` attributes to the current span."""
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(name, {f"prizm.{key}": value for key, value in attributes.items()})


class _Catalog(Protocol):
    @property
    def provider_id(self) -> str: ...


class _Endpoint(Protocol):
    @property
    def address(self) -> str: ...

    @property
    def catalog(self) -> _Catalog | None: ...


def _provider_of(endpoint: _Endpoint) -> str:
    return endpoint.catalog.provider_id if endpoint.catalog else endpoint.address


class Attempt:
    """The client span of one call of a job to one provider, a child of the router's server span.

    Built before the call; `metadata` is what the call sends (the router's own trace context in
    place of the caller's, and the request id and caller of the job); `follow` wraps the call's
    messages and ends the span with the call's outcome. With tracing off it does nothing, and
    the metadata is the caller's.

    Args:
        tried: The job's endpoints so far, this one last: one before it means a failover, which
            becomes a `prizm.failover` event on the server span.
        metadata: The caller metadata forwarded to providers.
    """

    def __init__(self, tried: Sequence[_Endpoint], metadata: Metadata) -> None:
        endpoint = tried[-1]
        self.provider = _provider_of(endpoint)
        if len(tried) > 1:
            span_event("prizm.failover", from_provider=_provider_of(tried[-2]), to_provider=self.provider)
        extra = forwarded_identity()
        own = {key for key, _ in extra}
        outgoing = [(k, v) for k, v in metadata if k not in own] + list(extra)
        tracer = _active.get()
        self.span: trace.Span = trace.INVALID_SPAN
        if tracer is not None and trace.get_current_span().is_recording():
            self.span = tracer.start_span(
                _ATTEMPT_SPAN,
                kind=trace.SpanKind.CLIENT,
                attributes={
                    "rpc.system": "grpc",
                    "rpc.service": "prizm.v1.ModelService",
                    "rpc.method": "Transform",
                    "server.address": endpoint.address,
                    "prizm.provider": self.provider,
                },
            )
            outgoing = [(k, v) for k, v in outgoing if k not in TRACE_KEYS]
            outgoing += trace_context(trace.set_span_in_context(self.span))
        self.metadata: tuple[tuple[str, str | bytes], ...] = tuple(outgoing)

    def end(self, code: grpc.StatusCode) -> None:
        """Ends the span with the call's status (once)."""
        if not self.span.is_recording():
            return
        self.span.set_attribute("rpc.grpc.status_code", code.value[0])
        self.span.set_attribute("prizm.outcome", outcome_of(code))
        if code != grpc.StatusCode.OK:
            self.span.set_status(trace.StatusCode.ERROR, code.name)
        self.span.end()

    async def follow(self, messages: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
        """`messages`, ending the span when they end, fail or are left."""
        code = grpc.StatusCode.CANCELLED  # left before the end: the relay cancels the call
        try:
            first = True
            async for message in messages:
                if first:  # the provider that answers is the job's, whatever came before
                    annotate(provider=self.provider)
                    first = False
                yield message
            code = grpc.StatusCode.OK
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            raise
        finally:
            self.end(code)
            aclose = getattr(messages, "aclose", None)
            if aclose is not None:
                await aclose()
