"""The voices `espeak-ng --voices` lists, parsed into what a caller may pass as `voice`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Voice", "parse_voices", "voice_choices"]

# Pty, Language, Age/Gender, VoiceName, File, then "(alias priority)" pairs; names use underscores.
_ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")
_ALIAS = re.compile(r"\(([^\s()]+)\s+\d+\)")


@dataclass(frozen=True)
class Voice:
    """One espeak-ng voice.

    Attributes:
        language: The language code it is listed under, e.g. "en-us"; what `-v` takes.
        name: Its name, e.g. "English (America)".
        gender: "M", "F" or "" when unknown.
        file: Its voice file, relative to espeak-ng's data folder.
        aliases: Other language codes it answers to, e.g. ("en",); `-v` takes these too.
    """

    language: str
    name: str
    gender: str
    file: str
    aliases: tuple[str, ...] = ()


def parse_voices(listing: Iterable[str]) -> list[Voice]:
    """The voices in the lines of `espeak-ng --voices`; the header and anything unexpected are skipped."""
    voices: list[Voice] = []
    for line in listing:
        row = _ROW.match(line)
        if row is None:
            continue
        _, language, age_gender, name, file, rest = row.groups()
        gender = age_gender.rpartition("/")[2]
        voices.append(
            Voice(
                language=language,
                name=name.replace("_", " ").strip(),
                gender=gender if gender in ("M", "F") else "",
                file=file,
                aliases=tuple(_ALIAS.findall(rest)),
            )
        )
    return voices


def voice_choices(voices: Sequence[Voice]) -> tuple[str, ...]:
    """Every code `-v` accepts for these voices (languages and their aliases), sorted, once each."""
    return tuple(sorted({code for voice in voices for code in (voice.language, *voice.aliases)}))
