"""Text cut into sentences to speak one at a time: at sentence ends and blank lines, and long runs
cut at a space."""

from __future__ import annotations

import re

__all__ = ["MAX_SENTENCE_CHARACTERS", "split_sentences"]

# Longest piece spoken in one go: keeps progress steps and cancel latency short.
MAX_SENTENCE_CHARACTERS = 400
# A full stop, question or exclamation mark (with closing quotes or brackets) before a space; a CJK
# one anywhere; or a blank line.
_BOUNDARY = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*\s+|[\u3002\uff01\uff1f]+|\n\s*\n")


def _cut(sentence: str, limit: int) -> list[str]:
    """`sentence` in pieces of at most `limit` characters, cut at the last space where there is one."""
    pieces = []
    while len(sentence) > limit:
        at = sentence.rfind(" ", 0, limit + 1)
        at = at if at > 0 else limit
        pieces.append(sentence[:at].strip())
        sentence = sentence[at:].strip()
    return [*pieces, sentence] if sentence else pieces


def split_sentences(text: str, limit: int = MAX_SENTENCE_CHARACTERS) -> list[str]:
    """The sentences of `text`, whitespace collapsed, in order; pieces with nothing to say are dropped.

    Args:
        text: Any text.
        limit: Longest piece, in characters.
    """
    pieces, start = [], 0
    for boundary in _BOUNDARY.finditer(text):
        pieces.append(text[start : boundary.end()])
        start = boundary.end()
    pieces.append(text[start:])
    sentences: list[str] = []
    for piece in pieces:
        collapsed = " ".join(piece.split())
        if any(char.isalnum() for char in collapsed):
            sentences.extend(_cut(collapsed, limit))
    return sentences
