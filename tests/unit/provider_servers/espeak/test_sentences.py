"""Text cut into sentences to speak one at a time."""

from __future__ import annotations

import pytest

from provider_servers.espeak.sentences import split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("", []),
        ("   \n\n  ", []),
        ("... !!! ?", []),
        ("Hello world", ["Hello world"]),
        ("Hello world. How are you? Fine!", ["Hello world.", "How are you?", "Fine!"]),
        ("Wait... what?! Yes.", ["Wait...", "what?!", "Yes."]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("Pi is 3.14 exactly. Or not.", ["Pi is 3.14 exactly.", "Or not."]),
        ("a line\nwrapped mid sentence.", ["a line wrapped mid sentence."]),
        ("Title\n\nBody text", ["Title", "Body text"]),
        ("Bonjour le monde. Ça va?", ["Bonjour le monde.", "Ça va?"]),
        ("你好。世界\uff01再见", ["你好。", "世界\uff01", "再见"]),  # a full-width "!"
        ("Trailing space.   ", ["Trailing space."]),
        ("42. 7!", ["42.", "7!"]),
    ],
)
def test_split_at_sentence_ends_and_blank_lines(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    ("text", "limit", "pieces"),
    [
        ("one two three four", 9, ["one two", "three", "four"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("short. also short", 9, ["short.", "also", "short"]),
        ("exactly ten", 11, ["exactly ten"]),
    ],
)
def test_long_runs_are_cut_at_a_space_within_the_limit(text: str, limit: int, pieces: list[str]) -> None:
    assert split_sentences(text, limit) == pieces
    assert all(len(piece) <= limit for piece in pieces)
