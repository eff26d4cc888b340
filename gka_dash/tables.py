"""The tables the views show and let users download, with Dutch headers.

One function builds each table and the same frame is rendered and exported, so a download holds
exactly what the screen shows: withheld cells are absent from both and marked as such.
"""

from __future__ import annotations

import pandas as pd

from . import formatting, privacy, registry, stats
from .analysis import SHOWN, WITHHELD, GroupValues, SchoolPairs, AreaValues

# OWASP's rule for CSV injection: a cell that starts with one of these is a formula to Excel.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _with_decimals(frame: pd.DataFrame, decimals: dict[str, int]) -> pd.DataFrame:
    """Remember how many decimals each number column shows, for :func:`for_display`."""
    frame.attrs["decimals"] = decimals
    return frame


def _header(ind: registry.Indicator, period: str = "") -> str:
    suffix = registry.UNITS[ind.unit][2]
    return f"{ind.label}{' ' + period if period else ''}{' (' + suffix + ')' if suffix else ''}"


def _rounded(values, unit: str) -> pd.Series:
    """Rounded as the labels round them: numpy's round halves 9.65 to 9.6 where the map's
    tooltip, formatted by Python, says 9,7; a table must not contradict its map."""
    decimals = formatting.DECIMALS.get(unit, 1)
    return pd.Series([round(v, decimals) if pd.notna(v) else float("nan") for v in values], dtype=float)


def _notes(statuses, noun: str) -> list[str]:
    return ["" if s == SHOWN else privacy.reason(noun) if s == WITHHELD else s for s in statuses]


def _bounds(label: str, low, high, unit: str) -> dict[str, pd.Series]:
    """The 95 % interval of a column as two number columns, so a spreadsheet can compute with
    them; empty where the value is withheld or has no margin (see stats.kind)."""
    return {f"Ondergrens 95 % {label}".rstrip(): _rounded(low, unit),
            f"Bovengrens 95 % {label}".rstrip(): _rounded(high, unit)}


def area_table(values: AreaValues, ind: registry.Indicator, period: str, level: str = "wijk", *,
               gemeenten: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per area; ``gemeenten`` (code → name) adds the gemeente of each, for a table that
    spans several."""
    frame = values.frame.reset_index(drop=True)
    noun = level.capitalize()
    columns = {noun: frame["name"], f"{noun}code": frame["code"]}
    if gemeenten is not None:
        columns["Gemeente"] = frame["gemeente_code"].map(gemeenten)
    value = _header(ind, period)
    bounds = _bounds("", frame["low"], frame["high"], ind.unit) if stats.kind(ind.unit) and frame["n"].notna().any() else {}
    decimals = formatting.DECIMALS.get(ind.unit, 1)
    return _with_decimals(pd.DataFrame({
        **columns,
        value: _rounded(frame["value"], ind.unit),
        **bounds,
        "Aantal (n)": frame["n"].astype("Int64"),
        "Opmerking": _notes(frame["status"], ind.counted),
    }), {value: decimals, **{c: decimals for c in bounds}})


def change_table(values: AreaValues, ind: registry.Indicator, before: str, after: str) -> pd.DataFrame:
    """Both periods and the change, each with its 95 % interval, and the verdict: "gestegen" or
    "gedaald" only where the interval of the change excludes zero."""
    frame = values.frame.reset_index(drop=True)
    change = "Verandering" + (" (procentpunt)" if ind.unit == "pct" else "")
    decimals = formatting.DECIMALS.get(ind.unit, 1)
    columns = {
        "Wijk": frame["name"], "Wijkcode": frame["code"],
        _header(ind, before): _rounded(frame["before"], ind.unit),
        **_bounds(before, frame["low_before"], frame["high_before"], ind.unit),
        _header(ind, after): _rounded(frame["after"], ind.unit),
        **_bounds(after, frame["low_after"], frame["high_after"], ind.unit),
        change: _rounded(frame["change"], ind.unit),
        **_bounds("verandering", frame["change_low"], frame["change_high"], ind.unit),
        "Oordeel": frame["verdict"],
        f"n {before}": frame["n_before"].astype("Int64"), f"n {after}": frame["n_after"].astype("Int64"),
        "Opmerking": _notes(frame["status"], ind.counted),
    }
    return _with_decimals(pd.DataFrame(columns), {c: decimals for c, v in columns.items()
                                                  if c not in ("Wijk", "Wijkcode", "Oordeel", "Opmerking")
                                                  and not c.startswith("n ")})


def school_table(pairs: SchoolPairs, x_ind: registry.Indicator, y_ind: registry.Indicator) -> pd.DataFrame:
    """Per school and year: population, outcome with its interval, what the population leads one
    to expect, and where the school lies in the funnel (beyond chance or not)."""
    frame = pairs.frame.reset_index(drop=True)
    x_dec, y_dec = formatting.DECIMALS.get(x_ind.unit, 1), formatting.DECIMALS.get(y_ind.unit, 1)
    bounds = _bounds("", frame["low"], frame["high"], y_ind.unit)
    return _with_decimals(pd.DataFrame({
        "School": frame["name"], "Vestiging": frame["code"], "Schooljaar": frame["period"],
        _header(x_ind): _rounded(frame["x"], x_ind.unit), _header(y_ind): _rounded(frame["y"], y_ind.unit),
        **bounds,
        "Verwacht": _rounded(frame["expected"], y_ind.unit),
        "Verschil met verwachting": _rounded(frame["residual"], y_ind.unit),
        "Ten opzichte van verwachting": frame["position"],
        "Leerlingen (n)": frame["n"].astype("Int64"),
        "Geschat (DUO <5, %)": (frame["estimated_share"] * 100).round(0),
        **({f"{x_ind.label}: geschat (DUO <5, %)": (frame["x_estimated"] * 100).round(0)}
           if frame["x_estimated"].gt(0).any() else {}),
    }), {_header(x_ind): x_dec, _header(y_ind): y_dec, "Verwacht": y_dec, "Verschil met verwachting": y_dec,
         "Geschat (DUO <5, %)": 0, **{c: y_dec for c in bounds}})


def group_table(groups: GroupValues, ind: registry.Indicator) -> pd.DataFrame:
    """Per area, year and group; the interval only for the gemeente's own rows: a reference
    carries no n, and its margin would give the n away."""
    frame = groups.frame.reset_index(drop=True)
    bounds = _bounds("", frame["low"], frame["high"], ind.unit)
    decimals = formatting.DECIMALS.get(ind.unit, 1)
    return _with_decimals(pd.DataFrame({
        "Gebied": frame["where"], "Jaar": frame["period"], "Opleiding ouders": frame["group"],
        _header(ind): _rounded(frame["value"], ind.unit), **bounds, "17-jarigen (n)": frame["n"].astype("Int64"),
    }), {_header(ind): decimals, **{c: decimals for c in bounds}})


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as a Dutch reader reads it: 32.080 and 4,9, each number column with the
    decimals of its unit, and a word where a value is absent: "onderdrukt" where the row says
    it was withheld, otherwise "–". The browser's own locale (often en-US) plays no part."""
    decimals = frame.attrs.get("decimals", {})
    withheld = (frame["Opmerking"].astype(str).str.startswith("onderdrukt") if "Opmerking" in frame.columns
                else pd.Series(False, index=frame.index))
    shown = frame.copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
            continue
        places = decimals.get(column, 0 if pd.api.types.is_integer_dtype(frame[column]) else 1)
        shown[column] = [formatting.number(float(v), places) if pd.notna(v) else ("onderdrukt" if w else "–")
                         for v, w in zip(frame[column], withheld)]
    return shown


def neutralised(value):
    """A text cell that Excel would run as a formula gets a leading apostrophe (OWASP); numbers
    are data and stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(frame: pd.DataFrame, *, synthetic: bool) -> bytes:
    """CSV for Dutch Excel: ';' separator, decimal comma, UTF-8 with BOM so 'ë' survives.

    Every text cell passes :func:`neutralised`: school and wijk names come from files anyone
    can edit. Synthetic data says so in every row, so a file passed on without its name still tells.
    """
    if synthetic:
        frame = frame.assign(Bron="synthetisch (demo)")
    frame = frame.assign(**{c: frame[c].map(neutralised) for c in frame.columns
                            if not pd.api.types.is_numeric_dtype(frame[c])})
    frame.columns = [neutralised(str(c)) for c in frame.columns]
    return frame.to_csv(sep=";", decimal=",", index=False).encode("utf-8-sig")
