"""The APCG postcode lists (armoedeprobleemcumulatiegebieden) as loaded, and which one a school
year is counted with: the newest list not later than the school year (L+A 2011-2012 for
2011-2012 … 2013-2014, L+A 2014 from 2014-2015), the rule the Regeling Leerplusarrangement
applies when a new list replaces the old."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from .periods import sort_periods
from .schema import apcg_list


def apcg_lists(conn) -> list[tuple[str, int, frozenset[str]]]:
    """The APCG lists loaded, oldest first: (name, first school year's start, PC4s)."""
    found = defaultdict(set)
    firsts = {}
    for name, first, pc4 in conn.execute(select(apcg_list.c.list, apcg_list.c.first_year, apcg_list.c.pc4)):
        found[name].add(pc4)
        firsts[name] = first
    return sorted(((name, firsts[name], frozenset(pc4s)) for name, pc4s in found.items()), key=lambda e: e[1])


def list_for(lists, period: str):
    """The newest list not later than the school year (None before the first list)."""
    start = int(period[:4])
    usable = [entry for entry in lists if entry[1] <= start]
    return usable[-1] if usable else None


def by_list(lists, periods) -> tuple[dict[str, list[str]], list[str]]:
    """Which list each school year is counted with (list → its school years), and the school
    years no list covers (before the oldest)."""
    used, none = defaultdict(list), []
    for period in sort_periods(periods):
        chosen = list_for(lists, period)
        (used[chosen[0]].append(period) if chosen else none.append(period))
    return dict(used), none


def describe(lists, periods) -> str:
    """In Dutch: "L+A 2011-2012 (2012-2013); L+A 2014 (2015-2016 tot en met 2024-2025)", and the
    school years without a list."""
    used, none = by_list(lists, periods)
    parts = [f"L+A {name} ({years[0]}{' tot en met ' + years[-1] if len(years) > 1 else ''})"
             for name, years in used.items()]
    text = "; ".join(parts)
    if none:
        oldest = f"L+A {lists[0][0]}" if lists else "een APCG-lijst"
        text += (f"{'. ' if text else ''}Geen % APCG voor {', '.join(none)}: "
                 f"die schooljaren liggen vóór de oudste lijst ({oldest})")
    return text


def lists_note(engine, periods) -> str:
    """What a page showing % APCG says about the lists behind it, in Dutch."""
    with engine.connect() as conn:
        lists = apcg_lists(conn)
    if not lists:
        return ""
    return ("% APCG-leerlingen: geteld uit DUO's leerlingen per woonpostcode met per schooljaar de nieuwste "
            "APCG-lijst die niet later is dan dat schooljaar: " + describe(lists, periods) + ".")
