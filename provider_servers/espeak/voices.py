"""The voices `espeak-ng --voices` lists, parsed into the BCP 47 tags a caller may pass as `language`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Voice", "canonical_tag", "language_choices", "parse_variants", "parse_voices"]

# Pty, Language, Age/Gender, VoiceName, File, then "(alias priority)" pairs; names use underscores.
_ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")
_ALIAS = re.compile(r"\(([^\s()]+)\s+\d+\)")
# Pty, "variant", Age/Gender, VoiceName, then !v/FILE up to the "(alias priority)" pairs.
_VARIANT_ROW = re.compile(r"^\s*\d+\s+variant\s+\S+\s+(\S+)\s+!v/(.+?)\s*(?:\(.*)?$")


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


def canonical_tag(code: str) -> str:
    """A language tag in BCP 47's canonical case (RFC 5646 2.1.1): "en-gb-x-rp" is "en-GB-x-rp".

    The language is lower case, a script (four letters) title case and a region (two letters)
    upper case; everything from a singleton (such as the private-use "x") on is lower case.
    """
    first, *rest = code.lower().split("-")
    subtags = [first]
    extended = False
    for subtag in rest:
        extended = extended or len(subtag) == 1
        cased = not extended and subtag.isalpha()
        if cased and len(subtag) == 2:
            subtags.append(subtag.upper())
        elif cased and len(subtag) == 4:
            subtags.append(subtag.title())
        else:
            subtags.append(subtag)
    return "-".join(subtags)


def language_choices(voices: Sequence[Voice]) -> tuple[str, ...]:
    """Every language these voices speak (their codes and aliases, which `-v` takes in any case) as
    BCP 47 tags in canonical case, sorted, once each."""
    codes = {code for voice in voices for code in (voice.language, *voice.aliases)}
    return tuple(sorted({canonical_tag(code) for code in codes}))


def parse_variants(listing: Iterable[str]) -> dict[str, str]:
    """The variants in the lines of `espeak-ng --voices=variant`, from the name a caller passes as
    `voice` (the listed name: "female2", "Mr_Serious") to the file `-v LANGUAGE+FILE` takes ("f2",
    "Mr serious": a file name may hold a space, so the row is read up to its aliases, if any)."""
    found: dict[str, str] = {}
    for line in listing:
        row = _VARIANT_ROW.match(line)
        if row is not None:
            found[row.group(1)] = row.group(2)
    return found
