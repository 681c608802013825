"""Traces of a provider's HTTP calls to its vendor: a CLIENT span per request, its context sent on.

The span is a child of the provider's server span (the job), and the request carries it as
`traceparent`, so a vendor that traces joins the same trace. Only the method, host, port and
response status are recorded: a URL's query or a header may hold a key.
"""

from __future__ import annotations

import httpx
from opentelemetry import trace

from prizm_core.telemetry.tracing import active_tracer, trace_context

__all__ = ["TracingTransport"]


class TracingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that traces each request when the call it runs for is traced.

    Args:
        inner: The transport that sends; httpx's default when None.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Sends `request`, in a span of its own when there is a traced call to hang it on."""
        tracer = active_tracer()
        if tracer is None or not trace.get_current_span().is_recording():
            return await self.inner.handle_async_request(request)
        attributes: dict[str, str | int] = {
            "http.request.method": request.method,
            "server.address": request.url.host,
        }
        if request.url.port is not None:
            attributes["server.port"] = request.url.port
        with tracer.start_as_current_span(
            request.method, kind=trace.SpanKind.CLIENT, attributes=attributes
        ) as span:
            for key, value in trace_context():  # never the caller's baggage: a vendor is a third party
                request.headers[key] = value
            response = await self.inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(trace.StatusCode.ERROR, str(response.status_code))
            return response

    async def aclose(self) -> None:
        """Closes the inner transport's connections."""
        await self.inner.aclose()
