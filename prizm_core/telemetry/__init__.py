"""Telemetry: Prometheus metrics, traces and structured logs of Prizm's processes."""

__all__: list[str] = []
