"""The gemeentelijke indeling: which CBS gemeente codes of 2015 and later went into which of today's.

School figures (DUO) carry today's codes, the areas the indeling of their year (2015, 2017); the
table of herindelingen (``data/gemeente_herindelingen.csv``: every merger and split that took
effect from 1 July 2015 through 2025, each row with the sources it was checked against — CBS's
code list as NLExtract keeps it, VNG Realisatie's address flows, the laws) maps an old code to
the gemeente it is part of today, so that peers and references speak of the same gemeenten.
A gemeente that was split over several (Littenseradiel 2018, Winsum 2019, Haaren 2021) has no
single successor and maps to none.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

TABLE = Path(__file__).resolve().parent / "data" / "gemeente_herindelingen.csv"


@functools.cache
def _rows() -> tuple[dict, ...]:
    with open(TABLE, encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


@functools.cache
def _successors() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for row in sorted(_rows(), key=lambda r: r["ingangsdatum"]):
        found.setdefault(row["oude_code"], []).append(row["nieuwe_code"])
    return {old: tuple(dict.fromkeys(new)) for old, new in found.items()}


def current(code: str) -> str | None:
    """Today's gemeente of a code (itself when it still exists); None for a split gemeente."""
    seen = set()
    while code in _successors() and code not in seen:
        seen.add(code)
        following = _successors()[code]
        if len(following) != 1:
            return None
        code = following[0]
    return code


def ceased(code: str) -> bool:
    """Whether this code no longer names a gemeente."""
    return code in _successors()


@functools.cache
def current_names() -> dict[str, str]:
    """Names of the gemeenten the herindelingen made (Het Hogeland, Eemsdelta, …)."""
    return {row["nieuwe_code"]: row["nieuwe_naam"] for row in _rows()}
