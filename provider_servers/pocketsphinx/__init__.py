"""The pocketsphinx provider: local offline speech recognition."""

from provider_servers.pocketsphinx.provider import PocketsphinxProvider

__all__ = ["PocketsphinxProvider"]
