"""CBS and DUO codes: recognise them, normalise them, derive the gemeente from them."""

from __future__ import annotations

import re

# ASCII digits only: '\d', str.isdigit() and int() also take other scripts' digits, so that
# 'GM００１٤' would become GM0014 and a grant of a fake gemeente a grant of the real one.
LEVEL_PATTERNS = {
    "gemeente": re.compile(r"^GM[0-9]{4}$"),
    # From 2023 CBS gives some wijken and buurten letters after the gemeente (Amsterdam: WK0363MB).
    "wijk": re.compile(r"^WK[0-9]{4}[0-9A-Z]{2}$"),
    "buurt": re.compile(r"^BU[0-9]{4}[0-9A-Z]{4}$"),
}
SCHOOL_ID = re.compile(r"^[0-9A-Z]{4}[0-9]{2}$")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def gemeente_code(value) -> str:
    """'363', ' 0363', 363.0 or 'GM0363' → 'GM0363'; DUO files write the number without prefix."""
    text = str(value).strip().upper()
    if text.startswith("GM"):
        text = text[2:]
    if text.endswith(".0"):
        text = text[:-2]
    if not _digits(text) or len(text) > 4:
        raise ValueError(f"'{value}' is not a CBS gemeente code (GM + 4 digits)")
    return f"GM{int(text):04d}"


def gemeente_of(code: str) -> str:
    """The gemeente an area code belongs to: WK036304 and BU03630401 lie in GM0363."""
    for level, pattern in LEVEL_PATTERNS.items():
        if pattern.match(code):
            return "GM" + code[2:6]
    raise ValueError(f"'{code}' is not a CBS area code (GM + 4 digits, WK + 6 or BU + 8 characters)")


def level_of(code: str) -> str | None:
    for level, pattern in LEVEL_PATTERNS.items():
        if pattern.match(code):
            return level
    return None


def school_id(brin, vestiging) -> str:
    """DUO writes the vestiging as '00', '0' or '00AP00'; the id is always BRIN4 + 2 digits."""
    brin = str(brin).strip().upper()
    vest = str(vestiging).strip().upper()
    if vest.startswith(brin):
        vest = vest[len(brin):]
    if vest.endswith(".0"):
        vest = vest[:-2]
    if not _digits(vest) or len(vest) > 2:
        raise ValueError(f"'{vestiging}' is not a vestigingsnummer (2 digits, or BRIN + 2 digits)")
    result = f"{brin}{int(vest):02d}"
    if not SCHOOL_ID.match(result):
        raise ValueError(f"'{brin}' is not a BRIN number (4 letters/digits)")
    return result
