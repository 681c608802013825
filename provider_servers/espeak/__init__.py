"""The espeak provider: espeak-ng text-to-speech in many languages."""

from provider_servers.espeak.provider import EspeakProvider

__all__ = ["EspeakProvider"]
