"""The openai provider: OpenAI's images, speech, transcription and chat, and a fake of its API."""

from provider_servers.openai.provider import OPENAI, OpenAIProvider

__all__ = ["OPENAI", "OpenAIProvider"]
