"""The contract cases of the pocketsphinx provider (entry point group `prizm.contract`)."""

from __future__ import annotations

from provider_servers.contract import Case, text_input
from provider_servers.contract.speech import SENTENCE, long_speech_wav, recognised_words, speech_wav
from provider_servers.sdk import Capability, InputAsset, MediaKind

__all__ = ["cases"]


def _wav(data: bytes) -> InputAsset:
    return InputAsset.inline(MediaKind.AUDIO, "audio/wav", data)


def _check_transcript(data: bytes) -> None:
    """Most words of the spoken sentence come back."""
    assert recognised_words(SENTENCE, data.decode("utf-8")) >= 6, data


def cases() -> list[Case]:
    """The sentence spoken by Piper, and thirty times over to cancel."""
    return [
        Case(
            capability=Capability.AUDIO_TO_TEXT,
            sample=lambda: _wav(speech_wav()),
            long_input=lambda: _wav(long_speech_wav()),
            check=_check_transcript,
            wrong_kind=lambda: text_input("not audio"),
        )
    ]
