"""What text may hold before a visitor sees it: one rule for what they type and for what others send.

The details form refuses a name with a character that is not allowed (the visitor can fix it);
text from a wallet or an agent (a failure reason) has those characters taken out instead, and is
cut to a length a page can show.
"""

from __future__ import annotations

import re
import unicodedata

# Bidirectional embedding, override and isolate controls: they can make text display as something
# else ("Ada<U+202E>gpj.exe" reads "Adaexe.jpg"). The joiners (ZWJ, ZWNJ) that some scripts need
# are format characters too, but they change no order and stay allowed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
ALLOWED_FORMAT = frozenset("\u200c\u200d")
# Control, format, surrogate, private-use and unassigned code points: invisible, or shown as
# anything a font likes.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# Letters and symbols by their category that show nothing (the Hangul fillers, the blank braille
# pattern): a name made only of these looks empty.
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Letters, digits and pictographs (a name of emoji is a name some people choose).
VISIBLE_CATEGORIES = ("L", "N", "So")

BIDI = "bidi"
CONTROL = "control"

# A failure reason from a wallet or an agent is a sentence, not a document.
FOREIGN_TEXT_LIMIT = 200
_SPACES = re.compile(r"\s+")


def unsafe_kind(char: str) -> str | None:
    """``BIDI`` or ``CONTROL`` for a character text shown to visitors must not hold, else None."""
    if char in ALLOWED_FORMAT:
        return None
    if char in BIDI_CONTROLS:
        return BIDI
    if unicodedata.category(char) in HIDDEN_CATEGORIES:
        return CONTROL
    return None


def first_unsafe_kind(value: str) -> str | None:
    """The kind of the first character ``value`` must not hold, or None when it holds none."""
    for char in value:
        kind = unsafe_kind(char)
        if kind is not None:
            return kind
    return None


def has_visible_letter(value: str) -> bool:
    """Whether ``value`` has a letter, digit or pictograph that shows (not a filler such as U+3164)."""
    return any(
        unicodedata.category(char).startswith(VISIBLE_CATEGORIES) and char not in INVISIBLE_LETTERS for char in value
    )


def foreign_text(value: str, *, limit: int = FOREIGN_TEXT_LIMIT) -> str:
    """Text from outside the portal, fit to show: composed (NFC), with the characters the form
    refuses taken out, line breaks and runs of spaces made one space, and cut to ``limit``."""
    # Cut before scanning too, so that a huge value costs no more than a short one.
    value = unicodedata.normalize("NFC", value[: limit * 4])
    value = "".join(" " if char.isspace() else char for char in value if unsafe_kind(char) is None or char.isspace())
    value = _SPACES.sub(" ", value).strip()
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value
