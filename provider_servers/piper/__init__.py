"""The piper provider: local neural text-to-speech."""

from provider_servers.piper.provider import PiperProvider

__all__ = ["PiperProvider"]
