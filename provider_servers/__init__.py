"""Prizm provider servers: the provider SDK and one package per provider."""

import os

# A provider forks only to exec its tools (espeak-ng, ffmpeg, sox), which never use the parent's
# gRPC state. With gRPC's fork handlers on (its default), a tool forked while other threads are in
# gRPC can die between fork and exec (SIGSEGV, SIGABRT). gRPC reads this when it loads, so it is set
# here, before a provider module imports grpc (`python -m provider_servers.NAME` loads this first).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

__all__: list[str] = []
