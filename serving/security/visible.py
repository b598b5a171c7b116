"""Free text from clients must say something a person can read (pure logic).

A prompt of only zero-width, bidi-control or NUL characters passes `strip()` but carries
nothing, and is echoed into every track's `reason`; bidi overrides in echoed text can
make it read differently from what it is (Trojan Source). So: control characters other
than tab/newline are refused, bidi embedding/override/isolate controls are removed, and
at least one visible character must remain."""

from __future__ import annotations

import re
import unicodedata

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"}


def visible_text(value: str, field: str, example: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(f"{field} contains control characters (such as NUL); send plain text, e.g. '{example}'")
    value = _BIDI.sub("", value).strip()
    if not any(unicodedata.category(ch) not in _INVISIBLE for ch in value):
        raise ValueError(f"{field} must contain some visible text, e.g. '{example}'")
    return value
