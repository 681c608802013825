"""`espeak-ng --voices` parsed: languages, names, genders, aliases, and the choices they give."""

from __future__ import annotations

import pytest

from provider_servers.espeak.voices import (
    Voice,
    canonical_tag,
    language_choices,
    parse_variants,
    parse_voices,
)

# Lines as espeak-ng 1.51 prints them, the header included.
LISTING = """\
Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  af              --/M      Afrikaans          gmw/af
 5  cmn             --/M      Chinese_(Mandarin,_latin_as_English) sit/cmn              (zh-cmn 5)(zh 5)
 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
 5  fr-fr           --/M      French_(France)    roa/fr               (fr 5)
 5  pt-br           --/M      Portuguese_(Brazil) roa/pt-BR            (pt 6)
 5  yue             --/M      Chinese_(Cantonese) sit/yue              (zh-yue 5)(zh 8)
 5  yue             --/M      Chinese_(Cantonese,_latin_as_Jyutping) sit/yue-Latn-jyutping (zh-yue 5)(zh 8)
 5  variant         50/F      Alicia             !v/Alicia
"""


def test_every_voice_row_is_read_and_the_header_skipped() -> None:
    voices = parse_voices(LISTING.splitlines())
    assert [voice.language for voice in voices] == [
        "af",
        "cmn",
        "en-us",
        "fr-fr",
        "pt-br",
        "yue",
        "yue",
        "variant",
    ]


@pytest.mark.parametrize(
    ("index", "voice"),
    [
        (0, Voice("af", "Afrikaans", "M", "gmw/af")),
        (1, Voice("cmn", "Chinese (Mandarin, latin as English)", "M", "sit/cmn", ("zh-cmn", "zh"))),
        (2, Voice("en-us", "English (America)", "M", "gmw/en-US", ("en",))),
        (
            6,
            Voice(
                "yue",
                "Chinese (Cantonese, latin as Jyutping)",
                "M",
                "sit/yue-Latn-jyutping",
                ("zh-yue", "zh"),
            ),
        ),
        (7, Voice("variant", "Alicia", "F", "!v/Alicia")),
    ],
)
def test_columns_are_parsed(index: int, voice: Voice) -> None:
    assert parse_voices(LISTING.splitlines())[index] == voice


@pytest.mark.parametrize(
    "lines",
    [[], [""], ["Pty Language Age/Gender VoiceName File Other Languages"], ["garbage line"], ["5 too few"]],
)
def test_lines_that_are_not_voices_give_none(lines: list[str]) -> None:
    assert parse_voices(lines) == []


def test_choices_are_languages_and_aliases_as_canonical_tags_once_each_sorted() -> None:
    voices = [voice for voice in parse_voices(LISTING.splitlines()) if voice.language != "variant"]
    assert language_choices(voices) == (
        "af",
        "cmn",
        "en",
        "en-US",
        "fr",
        "fr-FR",
        "pt",
        "pt-BR",
        "yue",
        "zh",
        "zh-cmn",
        "zh-yue",
    )


@pytest.mark.parametrize(
    ("code", "tag"),
    [
        ("en-us", "en-US"),
        ("EN", "en"),
        ("en-gb-x-rp", "en-GB-x-rp"),
        ("en-gb-scotland", "en-GB-scotland"),
        ("cmn-latn-pinyin", "cmn-Latn-pinyin"),
        ("chr-US-Qaaa-x-west", "chr-US-Qaaa-x-west"),
        ("es-419", "es-419"),
        ("vi-vn-x-central", "vi-VN-x-central"),
        ("zh-yue", "zh-yue"),
    ],
)
def test_codes_become_bcp47_tags_in_canonical_case(code: str, tag: str) -> None:
    assert canonical_tag(code) == tag


VARIANTS = """\
Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  variant         --/M      Adam               !v/adam
 5  variant         --/F      female2            !v/f2
 5  variant         --/M      Mr_Serious         !v/Mr serious
 5  variant         --/M      Storm              !v/Storm             (en-us 5)
 5  af              --/M      Afrikaans          gmw/af
"""


def test_variants_map_their_listed_names_to_their_files_spaces_and_aliases_included() -> None:
    assert parse_variants(VARIANTS.splitlines()) == {
        "Adam": "adam",
        "female2": "f2",
        "Mr_Serious": "Mr serious",
        "Storm": "Storm",
    }
