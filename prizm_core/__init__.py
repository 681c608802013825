"""Prizm's core: the router, the client SDK, the CLI, and shared media types and errors."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prizm")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
