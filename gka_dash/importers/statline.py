"""CBS StatLine "Kerncijfers wijken en buurten" (one table per year) → context observations per
gemeente, wijk and buurt, for every year a table is loaded.

Read through ``cbsodata`` (``import-kerncijfers 85984NED``), or, on a machine without internet,
from an export of the same table: the JSON ``cbsodata.get_data`` returns (a list of rows), the
OData feed's ``{"value": [...]}``, or StatLine's CSV download (titles as column names).

Columns are matched by what they *are*, never by position or by their numeric suffix:
``GemiddeldInkomenPerInwoner_66`` in 2017 is ``_72`` in 2022, and public code disagrees about
the 2023 and 2024 suffixes (``docs/bronnen.md``). A key is matched by its stem (the key without
``_NN``), a CSV column by its title without the unit in brackets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .. import codes, registry
from ..errors import InputError
from .base import (DUTCH_NUMBER, MAX_COUNT, MAX_ROWS, PLAIN_NUMBER, ImportReport, checksum, decode, read_bytes,
                   read_table, start_dataset, write_observations)

# Kerncijfers tables per year (the CBS page of each table names it; docs/bronnen.md).
TABLES = {"82339NED": 2013, "82931NED": 2014, "83220NED": 2015, "83487NED": 2016, "83765NED": 2017,
          "84286NED": 2018, "84583NED": 2019, "84799NED": 2020, "85039NED": 2021, "85318NED": 2022,
          "85618NED": 2023, "85984NED": 2024, "86165NED": 2025}
TABLE_ID = re.compile(r"^[0-9]{5}NED$")

# What each measure is called: key stems (cbsodata, OData) and titles (CSV), lower case.
MEASURES = {
    "code": ("codering", "codering (code)"),
    "inwoners": ("aantalinwoners", "aantal inwoners", "bevolking aantal inwoners"),
    "jongeren": ("k_0tot15jaar", "0 tot 15 jaar", "leeftijdsgroepen 0 tot 15 jaar"),
    "niet_westers": ("nietwesterstotaal", "niet-westers totaal"),
    "dichtheid": ("bevolkingsdichtheid",),
    "stedelijkheid": ("matevanstedelijkheid", "mate van stedelijkheid"),
    "inkomen": ("gemiddeldinkomenperinwoner", "gemiddeld inkomen per inwoner"),
    "laag_inkomen": ("huishoudensmeteenlaaginkomen", "huishoudensmetlaaginkomen", "huishoudens met een laag inkomen",
                     "huishoudens met laag inkomen"),
    "sociaal_minimum": ("huishonderofrondsociaalminimum", "huishoudens onder of rond sociaal minimum",
                        "huish. onder of rond sociaal minimum"),
    "bijstand": ("personenpersoortuitkeringbijstand", "personen per soort uitkering bijstand", "bijstand"),
}
# Measure → (indicator, how its value is made): as published, a share of inhabitants, or per 1.000.
INDICATORS = {"inwoners": ("inwoners", "as is"), "jongeren": ("pct_0_14_jr", "pct"),
              "niet_westers": ("pct_niet_westers", "pct"), "dichtheid": ("bevolkingsdichtheid", "as is"),
              "stedelijkheid": ("stedelijkheid", "as is"), "inkomen": ("inkomen_per_inwoner", "as is"),
              "laag_inkomen": ("pct_hh_laag_inkomen", "as is"), "sociaal_minimum": ("pct_hh_sociaal_minimum", "as is"),
              "bijstand": ("bijstand_per_1000", "per 1000")}
MAX_JSON_BYTES = 100 * 2**20
YEARS = range(2000, 2101)


def _stem(name: str) -> str:
    """'GemiddeldInkomenPerInwoner_66' → 'gemiddeldinkomenperinwoner'; 'Aantal inwoners (aantal)'
    → 'aantal inwoners'."""
    name = re.sub(r"_[0-9]+$", "", str(name).strip()).split("/")[-1]  # a CSV title may carry its theme: 'Bevolking/…'
    name = re.sub(r"\s*\([^)]*\)\s*$", "", name)
    return re.sub(r"\s+", " ", name).strip().lower()


def fetch(table_id: str) -> list[dict]:
    """The table's rows from CBS through cbsodata (needs internet)."""
    import cbsodata  # only here: the rest of the importer works offline
    try:
        return cbsodata.get_data(table_id)
    except Exception as exc:
        raise InputError(table_id, f"could not be fetched from CBS StatLine ({str(exc).splitlines()[0][:160]}); "
                                   "on a machine without internet, import an export of the table instead") from None


def read_rows(path: Path) -> list[dict]:
    """A JSON export (cbsodata's list of rows, or OData's {"value": [...]}) or a StatLine CSV."""
    if path.suffix.lower() == ".json":
        data = read_bytes(path)
        if len(data) > MAX_JSON_BYTES:  # parsed JSON takes some 30 times its size in memory
            raise InputError(path.name, f"is {len(data) / 2**20:.0f} MB; a StatLine table of every gemeente, wijk and "
                                        f"buurt is about 40 MB, and the most this import reads is "
                                        f"{MAX_JSON_BYTES // 2**20} MB")
        try:
            data = json.loads(decode(data, path.name, allow_latin1=False))
        except json.JSONDecodeError as exc:
            raise InputError(path.name, f"is not valid JSON ({exc.msg}, line {exc.lineno})") from None
        except RecursionError:
            raise InputError(path.name, "is nested too deeply to be a StatLine table") from None
        rows = data.get("value") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InputError(path.name, "is not a StatLine table; expected a list of rows or {\"value\": [rows]}")
        if len(rows) > MAX_ROWS:
            raise InputError(path.name, f"has more than {MAX_ROWS:,} rows".replace(",", "."))
        return [{**row, "_row": i} for i, row in enumerate(rows, start=1)]
    table = read_table(path, allow_latin1=True)
    return [{**row, "_decimal_comma": table.decimal_comma} for row in table.rows]


def is_kerncijfers(columns) -> bool:
    stems = {_stem(c) for c in columns}
    return bool(stems & set(MEASURES["code"])) and bool(stems & set(MEASURES["inwoners"]))


def import_kerncijfers(engine, source: str | Path, *, year: int | None = None, user: str = "cli") -> ImportReport:
    """``source``: a StatLine table id (fetched through cbsodata) or a file exported from one."""
    text = str(source)
    if TABLE_ID.match(text.upper()) and not Path(text).exists():
        table_id, rows, name, digest = text.upper(), fetch(text.upper()), text.upper(), "statline"
    else:
        path = Path(source)
        digest = checksum(read_bytes(path))
        table_id = next((t for t in TABLES if t in path.name.upper()), None)
        rows, name = read_rows(path), path.name
    own = TABLES.get(table_id or "")
    if year is not None and own is not None and year != own:  # it would overwrite another year's figures
        raise InputError(name, f"is the Kerncijfers table of {own} ({table_id}); --year {year} contradicts it: "
                               f"leave --year out or pass {own}")
    year = year or own
    if year is None:
        raise InputError(name, "does not name a known Kerncijfers table (e.g. 85984NED in its file name); pass --year")
    if year not in YEARS:
        raise InputError(name, f"--year {year} is not a year of the Kerncijfers wijken en buurten (2000-2100)")
    if not rows:
        raise InputError(name, "has no rows")
    columns = _columns(name, [c for c in rows[0] if not c.startswith("_")])
    observations = _observations(name, rows, columns, year)
    report = ImportReport(dataset=f"kerncijfers {year} ({name})")
    with engine.begin() as conn:
        dataset_id = start_dataset(conn, kind="kerncijfers", name=f"{year} {name}", file_name=name,
                                   digest=digest, rows=len(rows), user=user)
        report.stored = {"contextwaarnemingen": write_observations(conn, observations, dataset_id)}
    missing = [m for m in INDICATORS if m not in columns]
    if missing:
        report.warnings.append("niet in deze tabel: " + ", ".join(INDICATORS[m][0] for m in missing))
    return report


def _columns(name: str, keys: list[str]) -> dict[str, str]:
    """Measure → the table's own column for it."""
    found = {}
    for key in keys:
        stem = _stem(key)
        for measure, names in MEASURES.items():
            if stem in names and measure not in found:
                found[measure] = key
    for required in ("code", "inwoners"):
        if required not in found:
            raise InputError(name, f"missing; expected a column '{MEASURES[required][1]}' (the table has: "
                                   f"{', '.join(keys[:12])}{' …' if len(keys) > 12 else ''})",
                             column=MEASURES[required][1])
    return found


def _number(name: str, row: dict, column: str) -> float | None:
    """A StatLine value: a number, or '.' (with leading spaces) / '' / None for 'geheim' or missing.
    Text is read as a JSON export writes it (24.9), or as its CSV does: a ';' file the Dutch way
    (24,9 and 1.000), as every ';' file here; only ASCII digits count."""
    value = row.get(column)
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise InputError(name, "is not a number", row=row.get("_row"), column=column)
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip()
        if text in ("", ".", "x", "-"):
            return None
        dutch = row.get("_decimal_comma")
        if not (DUTCH_NUMBER if dutch else PLAIN_NUMBER).match(text) or "e" in text.lower():
            raise InputError(name, f"'{text}' is not a number" + (" as a ';' file writes it (1.234,5)" if dutch else ""),
                             row=row.get("_row"), column=column)
        number = float(text.replace(".", "").replace(",", ".") if dutch else text)
    if number != number or abs(number) == float("inf") or abs(number) > MAX_COUNT:
        raise InputError(name, f"'{value}' is not a finite, plausible number", row=row.get("_row"), column=column)
    return number


def _checked(name: str, row: dict, column: str, key: str, value: float | None) -> float | None:
    """A value within what its unit allows (no share over 100 %, no negative count)."""
    low, high = registry.get(key).bounds
    if value is not None and (value < low or (high is not None and value > high)):
        allowed = f"{low:g} to {high:g}" if high is not None else f"at least {low:g}"
        raise InputError(name, f"{value:g} is outside {allowed} for {registry.get(key).label.lower()}",
                         row=row.get("_row"), column=column)
    return value


def _observations(name: str, rows: list[dict], columns: dict[str, str], year: int) -> list[dict]:
    out, seen = [], {}
    for row in rows:
        code = str(row.get(columns["code"]) or "").strip().upper()
        if codes.level_of(code) is None:
            continue  # Nederland, or an unknown region kind
        if code in seen:
            raise InputError(name, f"{code} occurs twice (also row {seen[code]})", row=row.get("_row"),
                             column=columns["code"])
        seen[code] = row.get("_row")
        inhabitants = _number(name, row, columns["inwoners"])
        if inhabitants is not None and (inhabitants < 0 or inhabitants != int(inhabitants)):
            raise InputError(name, f"{inhabitants:g} is not a number of inhabitants (a whole number ≥ 0)",
                             row=row.get("_row"), column=columns["inwoners"])
        for measure, (key, how) in INDICATORS.items():
            if measure not in columns:
                continue
            value = _number(name, row, columns[measure])
            if value is not None and how != "as is":
                if value < 0:
                    raise InputError(name, f"{value:g} is not a count (≥ 0)", row=row.get("_row"), column=columns[measure])
                value = None if not inhabitants else value / inhabitants * (100 if how == "pct" else 1000)
            value = _checked(name, row, columns[measure], key, value)
            if value is None:  # '.' is "not in this table": another source's figure of the year stays
                continue
            out.append({"indicator_key": key, "subject": code, "gemeente_code": codes.gemeente_of(code),
                        "period": str(year), "value": round(value, 3),
                        "n": None if inhabitants is None else int(inhabitants)})
    if not out:
        raise InputError(name, "has no rows for a gemeente, wijk or buurt (column Codering: GM…, WK…, BU…)")
    return out
