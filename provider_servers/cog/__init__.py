"""Cog: one model served by a Cog HTTP server, its options from the server's OpenAPI schema (`prizm[cog]`)."""

from provider_servers.cog.provider import CogProvider

__all__ = ["CogProvider"]
