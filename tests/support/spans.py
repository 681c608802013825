"""One in-memory span exporter for the test process: the global tracer provider exports to it."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["memory_exporter", "spans_of"]

_exporter = InMemorySpanExporter()


def memory_exporter() -> InMemorySpanExporter:
    """The exporter every traced server of this process exports to (set up on first use)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))  # at once: tests read it right after
        trace.set_tracer_provider(provider)
    return _exporter


def spans_of(trace_id: int) -> list[ReadableSpan]:
    """The finished spans of one trace."""
    return [
        s for s in _exporter.get_finished_spans() if s.context is not None and s.context.trace_id == trace_id
    ]
