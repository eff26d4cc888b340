"""Dutch number formatting (Babel's nl_NL): decimal comma, thousands dot, '12,3 %'."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
from babel.numbers import get_decimal_symbol, get_group_symbol

from . import registry

TIMEZONE = ZoneInfo("Europe/Amsterdam")

DECIMALS = {"pct": 1, "advies": 2, "count": 0, "per_1000": 1, "per_km2": 0, "sted": 0,
            "persons": 1, "z": 2, "score": 1, "flag": 0, "keur": 1}


LOCALE = "nl_NL"
# The separators come from Babel's nl_NL; Python's own formatting places them, since calling
# Babel's format_decimal per cell cost ~50 µs, a third of a second for a table of 170 schools.
_DUTCH = str.maketrans({",": get_group_symbol(LOCALE), ".": get_decimal_symbol(LOCALE)})


def number(value: float | None, decimals: int = 1) -> str:
    """Rounded by Python first, as every table rounds (see ``tables._rounded``), so a label and
    the table next to it never differ in the last digit; then written the Dutch way."""
    if value is None or value != value:
        return "–"
    return f"{round(float(value), decimals) + 0.0:,.{max(decimals, 0)}f}".translate(_DUTCH)  # + 0.0: no "-0,0"


def value(value: float | None, unit: str, *, with_unit: bool = True) -> str:
    if value is None:
        return "geen gegevens"
    text = number(value, DECIMALS.get(unit, 1))
    suffix = registry.UNITS[unit][2] if with_unit else ""
    if not suffix:
        return text
    return f"{text} {suffix}" if suffix != "%" else f"{text} %"


def difference(delta: float | None, unit: str, *, with_unit: bool = True) -> str:
    if delta is None:
        return ""
    decimals = DECIMALS.get(unit, 1)
    text = number(abs(delta), decimals)
    shown = round(delta, decimals)  # -0,003 shows as ±0,00: a sign on a zero claims a direction
    # ASCII '-' on purpose: st.metric reads the sign to choose the arrow direction.
    sign = "+" if shown > 0 else ("-" if shown < 0 else "±")
    return f"{sign}{text}{' procentpunt' if unit == 'pct' and with_unit else ''}"


def interval(low: float | None, high: float | None, unit: str) -> str:
    """A 95 % interval as a reader writes it: "12,1 tot 15,3 %"; "–" where there is none."""
    if low is None or high is None or low != low or high != high:
        return "–"
    decimals = DECIMALS.get(unit, 1)
    return f"{number(low, decimals)} tot {value(high, unit)}"


def change_interval(low: float | None, high: float | None, unit: str) -> str:
    """The interval of a change or a slope: in procentpunt for a percentage ("0,7 tot 2,6
    procentpunt"), never "%", which would read as a relative change."""
    if low is None or high is None or low != low or high != high:
        return "–"
    decimals = DECIMALS.get(unit, 1)
    suffix = " procentpunt" if unit == "pct" else (f" {registry.UNITS[unit][2]}" if registry.UNITS[unit][2] else "")
    return f"{number(low, decimals)} tot {number(high, decimals)}{suffix}"


def with_margin(change: float, margin: float, unit: str) -> str:
    """A change and its margin in one breath: "+3,0 procentpunt (marge ±0,8)"."""
    return f"{difference(change, unit)} (marge ±{number(margin, DECIMALS.get(unit, 1))})"


def in_sentence(label: str) -> str:
    """A label inside a sentence: lower-case first letter, unless it starts an abbreviation
    (WW-uitkeringen, APCG)."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def sentence_start(text: str) -> str:
    """A sentence's first letter in upper case, the rest as written (str.capitalize would make
    DUO and APCG lower case)."""
    return text[:1].upper() + text[1:]


def moment(at) -> str:
    """A stored time in Dutch local time; SQLite hands back the stored UTC time without its zone."""
    stamp = pd.Timestamp(at)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert(TIMEZONE).strftime("%d-%m-%Y %H:%M")
