"""The synthetic provider: deterministic output at a configurable pace, for tests and benchmarks."""

from provider_servers.synthetic.provider import SyntheticProvider

__all__ = ["SyntheticProvider"]
