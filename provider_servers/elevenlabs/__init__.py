"""The ElevenLabs provider: hosted text to speech, the audio streamed as it is made."""

from provider_servers.elevenlabs.provider import ElevenLabsProvider

__all__ = ["ElevenLabsProvider"]
