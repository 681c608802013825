"""The `prizm` command line."""

import os

# The router forks only to exec provider processes, which never use the parent's gRPC state:
# gRPC's fork handlers are pure overhead there (and log a line per child). Read when grpc loads.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from prizm_core.cli.main import main

__all__ = ["main"]
