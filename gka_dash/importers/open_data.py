"""Public DUO/CBS school files (see ``../shared/data/raw/SOURCES.md``) → school observations.

- eindtoets means 2018-2019: each test provider has its own scale (CET 501-550, IEP 50-100,
  Route 8 100-300, …), so raw means are kept per provider and one comparable figure is made:
  per provider a pupil-weighted z-score of the school means, averaged over the providers a
  school used, weighted by pupils (documented in the registry entry ``eindtoets_gem``).
- CBS achterstandsscores 2019 (the tidy CSV of Tabel 1 and 2).
- schooladviezen per BRIN 2019-2025: DUO publishes per BRIN, so the figure is attached to the
  BRIN's hoofdvestiging (the lowest vestiging number in the school list) and says so.
- APCG postcode lists: a flag for schools whose own PC4 is an APCG; *not* the % of pupils.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlalchemy import select

from .. import codes, registry
from ..errors import InputError
from ..schema import school
from .base import (ImportReport, TextTable, checksum, read_bytes, read_table, refuse_demo, start_dataset,
                   write_observations)
from .duo_schools import normalise_column

KINDS = ("eindtoets", "achterstand", "schooladviezen", "apcg", "gka")


def detect_kind(table: TextTable) -> str:
    columns = set(table.columns)
    if "CET_GEM" in columns:
        return "eindtoets"
    if {"BRIN_VESTIGING", "ACHTERSTANDSSCORE"} <= columns:
        return "achterstand"
    if "PCT_HAVO_VWO_MID" in columns:
        return "schooladviezen"
    if "PC4" in columns and any(c.startswith("APCG_") for c in columns):
        return "apcg"
    if {"GM_CODE", "GKA_AGENDA"} <= columns:
        return "gka"
    raise InputError(table.file, "is not a known DUO/CBS open-data file; expected the eindtoets "
                                 "scores, achterstandsscores, schooladviezen, APCG postcode list "
                                 "or the list of GKA gemeenten "
                                 "(see --kind)")


def import_open_data(engine, path: Path, *, kind: str | None = None, user: str = "cli") -> ImportReport:
    path = Path(path)
    digest = checksum(read_bytes(path))
    table = read_table(path, allow_latin1=True, normalise=normalise_column)
    kind = kind or detect_kind(table)
    report = ImportReport(dataset=f"{kind} ({path.name})")
    with engine.begin() as conn:
        refuse_demo(conn, path.name)
        schools = {row.id: row for row in conn.execute(
            select(school.c.id, school.c.brin, school.c.gemeente_code, school.c.postcode, school.c.sector))}
        rows = _PARSERS[kind](table, schools, report)
        if not rows:
            raise InputError(path.name, "no rows matched a school in the school list; import the "
                                        "DUO vestigingen list first")
        dataset_id = start_dataset(conn, kind="open-data", name=f"{kind} {path.name}",
                                   file_name=path.name, digest=digest, rows=len(table.rows), user=user)
        report.stored = {"observations": write_observations(conn, rows, dataset_id)}
    return report


def _observation(key, subject, gemeente, period, value, n=None) -> dict:
    return {"indicator_key": key, "subject": subject, "gemeente_code": gemeente, "period": period,
            "value": None if value is None else round(float(value), 4), "n": n}


def _subject(table: TextTable, row: dict, brin_col: str, vest_col: str | None) -> str:
    try:
        if vest_col:
            return codes.school_id(row[brin_col], row[vest_col])
        return codes.school_id(row[brin_col].strip()[:4], row[brin_col].strip()[4:])
    except ValueError as exc:
        raise InputError(table.file, str(exc), row=row["_row"], column=vest_col or brin_col) from None


def _eindtoets(table: TextTable, schools, report: ImportReport) -> list[dict]:
    table.require("BRIN_NUMMER", "VESTIGINGSNUMMER", "GEMEENTENUMMER")
    providers = [p for p in registry.EINDTOETS_PROVIDERS if f"{p}_GEM" in table.columns]
    period = "2018-2019"
    rows, per_school = [], defaultdict(list)  # school → [(provider, mean, pupils)]
    for row in table.rows:
        sid = _subject(table, row, "BRIN_NUMMER", "VESTIGINGSNUMMER")
        try:
            gm = codes.gemeente_code(row["GEMEENTENUMMER"])
        except ValueError as exc:
            raise InputError(table.file, str(exc), row=row["_row"], column="GEMEENTENUMMER") from None
        for p in providers:
            pupils = table.count(row, f"{p}_AANTAL", required=False) or 0
            mean = table.number(row, f"{p}_GEM", required=False)
            if pupils > 0 and mean is not None:
                low, high = registry.EINDTOETS_PROVIDERS[p][1:]
                if not low <= mean <= high:
                    raise InputError(table.file, f"{mean} is outside the {p} scale {low}-{high}",
                                     row=row["_row"], column=f"{p}_GEM")
                per_school[(sid, gm)].append((p, mean, int(pupils)))
                rows.append(_observation(f"eindtoets_{p.lower()}", sid, gm, period, mean, int(pupils)))
    stats = {}
    for p in providers:
        means = np.array([m for entries in per_school.values() for q, m, _ in entries if q == p])
        weights = np.array([w for entries in per_school.values() for q, _, w in entries if q == p])
        if len(means) >= 2:
            centre = np.average(means, weights=weights)
            spread = np.sqrt(np.average((means - centre) ** 2, weights=weights))
            stats[p] = (centre, spread if spread > 0 else 1.0)
    for (sid, gm), entries in per_school.items():
        scored = [((m - stats[p][0]) / stats[p][1], w) for p, m, w in entries if p in stats]
        if scored:
            z = sum(s * w for s, w in scored) / sum(w for _, w in scored)
            rows.append(_observation("eindtoets_gem", sid, gm, period, z, sum(w for _, w in scored)))
    report.warnings.append(f"providers used: {', '.join(providers)}; "
                           f"{sum(1 for sid, _ in per_school if sid not in schools)} schools are not "
                           "in the school list (stored, not shown until the list has them)")
    return rows


def _achterstand(table: TextTable, schools, report: ImportReport) -> list[dict]:
    table.require("BRIN_VESTIGING", "AANTAL_BEKOSTIGDE_LEERLINGEN", "ACHTERSTANDSSCORE", "SCORE_ZONDER_DREMPEL")
    rows, unknown = [], 0
    for row in table.rows:
        sid = _subject(table, row, "BRIN_VESTIGING", None)
        if sid not in schools:
            unknown += 1
            continue
        pupils = table.count(row, "AANTAL_BEKOSTIGDE_LEERLINGEN")
        score = table.number(row, "ACHTERSTANDSSCORE", required=False)
        raw = table.number(row, "SCORE_ZONDER_DREMPEL", required=False)
        gm = schools[sid].gemeente_code
        rows.append(_observation("achterstandsscore", sid, gm, "2019-2020", score, int(pupils)))
        if raw is not None and pupils > 0:
            rows.append(_observation("achterstandsscore_per_100", sid, gm, "2019-2020",
                                     raw / pupils * 100, int(pupils)))
    if unknown:
        report.warnings.append(f"{unknown} schools are not in the school list and were skipped")
    return rows


ADVIES_COLUMNS = {f"{key.upper()}_N_MID": value for key, value in registry.ADVIES_SCALE.items()}


def _schooladviezen(table: TextTable, schools, report: ImportReport) -> list[dict]:
    table.require("BRIN", "SCHOOLJAAR", "N_MID", "PCT_HAVO_VWO_MID", *ADVIES_COLUMNS)
    hoofdvestiging = {}
    for sid in sorted(schools):
        if schools[sid].sector == "PO":
            hoofdvestiging.setdefault(schools[sid].brin, sid)
    rows, unknown = [], set()
    for row in table.rows:
        brin = row["BRIN"].strip().upper()
        sid = hoofdvestiging.get(brin)
        if sid is None:
            unknown.add(brin)
            continue
        gm = schools[sid].gemeente_code
        period = table.period(row, "SCHOOLJAAR")
        counts = {col: table.count(row, col) for col in ADVIES_COLUMNS}
        advised = sum(counts.values())
        n = table.count(row, "N_MID")
        pct = table.number(row, "PCT_HAVO_VWO_MID", required=False)
        rows.append(_observation("schooladvies_havo_vwo_pct", sid, gm, period, pct, n))
        if advised > 0:
            mean = sum(ADVIES_COLUMNS[col] * c for col, c in counts.items()) / advised
            rows.append(_observation("schooladvies_gem", sid, gm, period, mean, int(advised)))
    if unknown:
        report.warnings.append(f"{len(unknown)} BRINs are not in the PO school list and were skipped")
    return rows


def _apcg(table: TextTable, schools, report: ImportReport) -> list[dict]:
    table.require("PC4")
    lists = {c: c[len("APCG_"):].replace("_", "-") for c in table.columns if c.startswith("APCG_")}
    flagged: dict[str, set[str]] = {period: set() for period in lists.values()}
    for row in table.rows:
        pc4 = row["PC4"].strip()
        if not (pc4.isascii() and pc4.isdigit() and len(pc4) == 4):
            raise InputError(table.file, f"'{pc4}' is not a 4-digit postcode", row=row["_row"], column="PC4")
        for col, period in lists.items():
            value = table.number(row, col)
            if value not in (0, 1):
                raise InputError(table.file, f"'{row[col]}' is not 0 or 1", row=row["_row"], column=col)
            if value == 1:
                flagged[period].add(pc4)
    rows = []
    for sid, s in schools.items():
        if s.sector != "PO" or not s.postcode:
            continue
        for period, pc4s in flagged.items():
            rows.append(_observation("apcg_postcode", sid, s.gemeente_code, period,
                                     1.0 if s.postcode[:4] in pc4s else 0.0))
    return rows


def _gka(table: TextTable, schools, report: ImportReport) -> list[dict]:
    """The GKA gemeenten (gm_code, gka_agenda "2019 (eerste 30)"): the peer group "GKA-gemeenten"."""
    table.require("GM_CODE", "GKA_AGENDA")
    rows = []
    for row in table.rows:
        try:
            gm = codes.gemeente_code(row["GM_CODE"])
        except ValueError as exc:
            raise InputError(table.file, str(exc), row=row["_row"], column="GM_CODE") from None
        found = re.search(r"\b(20\d\d)\b", row["GKA_AGENDA"])
        if found is None:
            raise InputError(table.file, f"'{row['GKA_AGENDA']}' does not name the year of the GKA agenda "
                                         "(e.g. '2019 (eerste 30)')", row=row["_row"], column="GKA_AGENDA")
        year = found.group(1)
        rows.append(_observation("gka_gemeente", gm, gm, year, 1.0))
    return rows


_PARSERS = {"eindtoets": _eindtoets, "achterstand": _achterstand,
            "schooladviezen": _schooladviezen, "apcg": _apcg, "gka": _gka}
