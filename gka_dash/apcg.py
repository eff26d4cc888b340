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


def lists_note(engine, periods) -> str:
    """What a page showing % APCG says about the lists behind it, in Dutch."""
    with engine.connect() as conn:
        lists = apcg_lists(conn)
    used = defaultdict(list)
    for period in sort_periods(periods):
        chosen = list_for(lists, period)
        if chosen:
            used[chosen[0]].append(period)
    if not used:
        return ""
    parts = [f"L+A {name} ({years[0]}{' tot en met ' + years[-1] if len(years) > 1 else ''})"
             for name, years in used.items()]
    return ("% APCG-leerlingen: geteld uit DUO's leerlingen per woonpostcode met per schooljaar de nieuwste "
            "APCG-lijst die niet later is dan dat schooljaar: " + "; ".join(parts) + ".")
