"""onboarding/text.py: one rule for what text shown to visitors may hold."""

from __future__ import annotations

import pytest

from onboarding.text import BIDI, CONTROL, FOREIGN_TEXT_LIMIT, first_unsafe_kind, foreign_text, has_visible_letter


@pytest.mark.parametrize(
    "value, kind",
    [("Ada", None), ("Ada\u202egpj.exe", BIDI), ("Ada\u2067x", BIDI), ("Love\x00lace", CONTROL),
     ("a\u200bb", CONTROL), ("a\U000e0041", CONTROL), ("\u0645\u06cc\u200c\u062e", None)],
)
def test_it_names_the_first_character_text_must_not_hold(value, kind):
    assert first_unsafe_kind(value) == kind


def test_foreign_text_loses_bidi_overrides_and_controls():
    assert foreign_text("declined\u202e by \u2066holder\u2069\x00\x1b[31m") == "declined by holder[31m"


def test_foreign_text_keeps_the_joiners_some_scripts_need():
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert foreign_text(persian) == persian


def test_foreign_text_is_one_line_of_composed_characters():
    assert foreign_text("  one\r\ntwo\u2028\tthree\u0085four  ") == "one two three four"
    assert foreign_text("Zoe\u0308") == "Zo\u00eb"


def test_foreign_text_is_cut_to_its_limit():
    shown = foreign_text("x" * 10_000)
    assert len(shown) == FOREIGN_TEXT_LIMIT and shown.endswith("…")
    assert foreign_text("abcdef", limit=4) == "abc…"
    assert foreign_text("abcd", limit=4) == "abcd"


@pytest.mark.parametrize("value", ["Ada", "佐藤", "محمد", "42", "\u3164Ada", "\U0001f469\u200d\U0001f52c"])
def test_a_visible_letter_digit_or_pictograph_counts(value):
    assert has_visible_letter(value)


@pytest.mark.parametrize(
    "value", ["\u3164", "\u3164\u3164", "\u115f\u1160", "\uffa0", "\u2800\u2800", "\u0301", "-.-", "\U00016fe4"]
)
def test_fillers_marks_and_punctuation_alone_are_no_letter(value):
    assert not has_visible_letter(value)
