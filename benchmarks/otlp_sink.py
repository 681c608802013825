"""A local OTLP/gRPC trace collector that only counts what it receives, for the tracing overhead runs.

`python -m benchmarks.otlp_sink --counts FILE`: listens on a free loopback port, announces it with a
`listening` line, and after every export writes `{"exports": N, "spans": M}` to FILE, so that the
benchmark can check the spans really left the router and the provider.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import grpc
import uvloop
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb

from prizm_core.serving import announce_listening, stop_signal

__all__ = ["SERVICE", "Sink", "read_counts"]

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


class Sink:
    """Counts exported spans: a collector whose pipeline ends here (decoding the request is the work
    any collector does first)."""

    def __init__(self, counts: Path) -> None:
        self.counts = counts
        self.exports = 0
        self.spans = 0

    async def export(
        self, request: trace_pb.ExportTraceServiceRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> trace_pb.ExportTraceServiceResponse:
        """Counts the request's spans and records the totals."""
        self.exports += 1
        self.spans += sum(
            len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans
        )
        # Small and a few times a second at most (the exporters batch): written whole each time.
        self.counts.write_text(json.dumps({"exports": self.exports, "spans": self.spans}))
        return trace_pb.ExportTraceServiceResponse()


def read_counts(path: Path) -> dict[str, int]:
    """The totals a sink wrote; zeros when it received nothing."""
    if not path.is_file():
        return {"exports": 0, "spans": 0}
    counts: dict[str, int] = json.loads(path.read_text())
    return counts


async def _serve(counts: Path) -> None:
    sink = Sink(counts)
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Export": grpc.unary_unary_rpc_method_handler(
                sink.export,
                request_deserializer=trace_pb.ExportTraceServiceRequest.FromString,
                response_serializer=trace_pb.ExportTraceServiceResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    announce_listening(f"127.0.0.1:{port}", role="otlp-sink")
    await stop_signal().wait()
    await server.stop(1.0)


def main() -> None:
    """Parses the command line and serves until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", type=Path, required=True, help="where to write the totals")
    args = parser.parse_args()
    uvloop.run(_serve(args.counts))


if __name__ == "__main__":
    main()
