"""The tables the views show and let users download, with Dutch headers.

One function builds each table and the same frame is rendered and exported, so a download holds
exactly what the screen shows: withheld cells are absent from both and marked as such.
"""

from __future__ import annotations

import pandas as pd

from . import formatting, privacy, registry
from .analysis import SHOWN, WITHHELD, GroupValues, SchoolPairs, AreaValues

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


def area_table(values: AreaValues, ind: registry.Indicator, period: str, level: str = "wijk", *,
               gemeenten: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per area; ``gemeenten`` (code → name) adds the gemeente of each, for a table that
    spans several."""
    frame = values.frame.reset_index(drop=True)
    noun = level.capitalize()
    columns = {noun: frame["name"], f"{noun}code": frame["code"]}
    if gemeenten is not None:
        columns["Gemeente"] = frame["gemeente_code"].map(gemeenten)
    return pd.DataFrame({
        **columns,
        _header(ind, period): _rounded(frame["value"], ind.unit),
        "Aantal (n)": frame["n"].astype("Int64"),
        "Opmerking": _notes(frame["status"], ind.counted),
    })


def change_table(values: AreaValues, ind: registry.Indicator, before: str, after: str) -> pd.DataFrame:
    frame = values.frame.reset_index(drop=True)
    change = "Verandering" + (" (procentpunt)" if ind.unit == "pct" else "")
    return pd.DataFrame({
        "Wijk": frame["name"], "Wijkcode": frame["code"],
        _header(ind, before): _rounded(frame["before"], ind.unit),
        _header(ind, after): _rounded(frame["after"], ind.unit),
        change: _rounded(frame["change"], ind.unit),
        f"n {before}": frame["n_before"].astype("Int64"), f"n {after}": frame["n_after"].astype("Int64"),
        "Opmerking": _notes(frame["status"], ind.counted),
    })


def school_table(pairs: SchoolPairs, x_ind: registry.Indicator, y_ind: registry.Indicator) -> pd.DataFrame:
    frame = pairs.frame.reset_index(drop=True)
    return pd.DataFrame({
        "School": frame["name"], "Vestiging": frame["code"], "Schooljaar": frame["period"],
        _header(x_ind): _rounded(frame["x"], x_ind.unit), _header(y_ind): _rounded(frame["y"], y_ind.unit),
        "Verwacht": _rounded(frame["expected"], y_ind.unit),
        "Verschil met verwachting": _rounded(frame["residual"], y_ind.unit),
        "Leerlingen (n)": frame["n"].astype("Int64"),
    })


def group_table(groups: GroupValues, ind: registry.Indicator) -> pd.DataFrame:
    frame = groups.frame.reset_index(drop=True)
    return pd.DataFrame({
        "Gebied": frame["where"], "Jaar": frame["period"], "Opleiding ouders": frame["group"],
        _header(ind): _rounded(frame["value"], ind.unit), "17-jarigen (n)": frame["n"].astype("Int64"),
    })


def to_csv(frame: pd.DataFrame, *, synthetic: bool) -> bytes:
    """CSV for Dutch Excel: ';' separator, decimal comma, UTF-8 with BOM so 'ë' survives.

    Synthetic data says so in every row, so a file passed on without its name still tells.
    """
    if synthetic:
        frame = frame.assign(Bron="synthetisch (demo)")
    return frame.to_csv(sep=";", decimal=",", index=False).encode("utf-8-sig")
