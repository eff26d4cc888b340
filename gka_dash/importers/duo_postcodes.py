"""DUO's pupils per school vestiging by the pupil's home postcode (PC4) → ``pupil_postcode`` rows,
and from them, with the APCG postcode lists, the share of a school's pupils living in an APCG.

Two layouts of the same figures (``docs/bronnen.md`` names where each was checked):

- the older yearly CSVs "Leerlingen po per gemeente, postcode leerling en leeftijd" (``;``,
  latin-1): one row per vestiging × home postcode, PEILDATUM, BRIN_NUMMER, VESTIGINGSNUMMER,
  GEMEENTENUMMER (of the school), POSTCODE_LEERLING, GEMEENTENAAM_LEERLING, then a count per age
  (``L3_MIN`` … ``L25_PLUS``, in older years ``LEEFTIJD_4_JAAR`` …) and TOTAAL;
- the open-data portal's ``popostcode4`` (one file for all years): INSTELLINGSCODE,
  VESTIGINGSCODE, TYPE_PO, PEILJAAR, POSTCODE4_DEELNEMER, AANTAL_LEERLINGEN, where since late
  2023 DUO writes a count of 1-4 as ``<5``.

A ``<5`` cell is stored as such (``masked_cells``), not as a number. The APCG share then has a range, and its
expected value comes from how often cells of 1, 2, 3 and 4 pupils occur where they are not
masked (:func:`small_cell_chances`). The imputations' spread joins the margin, as for the
schooladviezen (``docs/statistiek.md``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlalchemy import delete, select

from .. import codes
from ..apcg import apcg_lists, describe, list_for
from ..errors import InputError
from ..schema import area, pupil_postcode, school
from .base import (CHUNK, ImportReport, TextTable, estimated_row, observation_row, read_known,
                   refuse_demo, school_of, small_cells, start_dataset, write_observations)
from .duo_doorstroom import derive_residence

OLD_COLUMNS = {"PEILDATUM", "POSTCODE_LEERLING"}  # with BRIN_NUMMER/VESTIGINGSNUMMER, from 2023 INSTELLINGSCODE/VESTIGINGSCODE
SCHOOL_COLUMNS = (("BRIN_NUMMER", "VESTIGINGSNUMMER"), ("INSTELLINGSCODE", "VESTIGINGSCODE"))
NEW_COLUMNS = {"INSTELLINGSCODE", "VESTIGINGSCODE", "PEILJAAR", "POSTCODE4_DEELNEMER", "AANTAL_LEERLINGEN"}
# The age columns of every era: L3_MIN, L4 … L24, L25_PLUS (2015-2022); LEEFTIJD_4_JAAR … (the
# per-gemeente files before) and LEEFTIJD_4 … (from 2023, with '<5').
AGE_COLUMN = re.compile(r"^(L[0-9]{1,2}(_MIN|_PLUS)?|LEEFTIJD_[0-9A-Z_]+)$")
# '<5' in the duo.nl files; the open-data portal's numeric column writes -1 for the same 1-4 pupils.
MASKED = ("<5", "<=4", "1-4", "-1", "x", "X")
VO_YEAR = re.compile(r"^LEER_OF_VERBLIJFSJAAR_[0-9]$")
YEAR_IN_NAME = re.compile(r"(?<![0-9])(20[0-9]{2})(?:-(20[0-9]{2}))?(?![0-9])")
SPECIAL = {"SBO", "SO", "SPECIAAL BASISONDERWIJS", "(V)SO", "VSO"}  # compared nowhere (one rule for school figures)
PC4 = re.compile(r"^([1-9][0-9]{3})(\.0+)?\s*([A-Z]{2})?$")
DERIVED = "apcg_pct (leerlingen naar postcode × APCG-lijst)"


def is_pupils_by_postcode(columns) -> bool:
    columns = set(columns)
    return (NEW_COLUMNS <= columns or _is_vo(columns)
            or (OLD_COLUMNS <= columns and _school_columns(columns) is not None))


def _is_vo(columns) -> bool:
    """The vo file "Leerlingen per vestiging naar postcode leerling en leerjaar": a count per
    LEER- OF VERBLIJFSJAAR 1 … 6 instead of per age."""
    return ("POSTCODE_LEERLING" in columns and _school_columns(columns) is not None
            and any(VO_YEAR.match(c) for c in columns))


def _school_columns(columns) -> tuple[str, str] | None:
    return next((pair for pair in SCHOOL_COLUMNS if set(pair) <= set(columns)), None)


def import_pupils_by_postcode(engine, path: Path, *, user: str = "cli") -> ImportReport:
    path = Path(path)
    digest, table = read_known(path, is_pupils_by_postcode, "is not a DUO file of pupils by home postcode; expected "
                               "the columns PEILDATUM, POSTCODE_LEERLING, BRIN_NUMMER, VESTIGINGSNUMMER (yearly files) "
                               f"or {', '.join(sorted(NEW_COLUMNS))} (popostcode4)")
    report = ImportReport(dataset=f"leerlingen naar postcode ({path.name})")
    with engine.begin() as conn:
        refuse_demo(conn, path.name)
        sector = "VO" if _is_vo(table.columns) else "PO"
        schools = dict(conn.execute(select(school.c.id, school.c.gemeente_code).where(school.c.sector == sector)).all())
        names = _gemeente_names(conn)
        parse = _new_rows if NEW_COLUMNS <= set(table.columns) else _vo_rows if sector == "VO" else _old_rows
        rows, skipped = parse(table, schools, names, path)
        if not rows:
            raise InputError(path.name, f"no rows matched a {sector} school in the school list; import the DUO "
                                        "vestigingen list first")
        dataset_id = start_dataset(conn, kind="leerlingen-postcode", name=path.name, file_name=path.name,
                                   digest=digest, rows=len(table.rows), user=user)
        _replace_overlap(conn, sector, rows)
        conn.execute(pupil_postcode.insert(), [{**{k: v for k, v in r.items() if k != "_row"}, "dataset_id": dataset_id}
                                               for r in rows])
        report.stored = {"cellen (vestiging × postcode)": len(rows)}
        if sector == "VO":  # the vo file serves the doorstroom estimate by residence, not % APCG
            report.stored["schattingen doorstroom naar woongemeente"] = derive_residence(conn, user=user)
        else:
            report.stored["scholen × schooljaren met % APCG (alle geladen bestanden, opnieuw berekend)"] = \
                derive_apcg(conn, user=user)
            lists = apcg_lists(conn)
    years = sorted({r["period"] for r in rows})
    report.facts.append(f"schooljaren {years[0]} tot en met {years[-1]}" if len(years) > 1 else f"schooljaar {years[0]}")
    if sector == "PO":
        report.facts.append("APCG-lijst per schooljaar (de nieuwste die niet later is): " + describe(lists, years)
                            if lists else "nog geen APCG-postcodelijst geladen: het % APCG-leerlingen volgt zodra die er is")
    masked = sum(r["masked_cells"] for r in rows)
    if masked:
        report.warnings.append(f"{masked} cellen met 1 tot 4 leerlingen ('<5' of -1): bewaard als zodanig, "
                               "geschat en meegeteld in de marge")
    abroad = sum(r["pupils"] for r in rows if r["pc4"] is None)
    if abroad:
        report.warnings.append(f"{abroad} leerlingen zonder Nederlandse postcode (buitenland, onbekend) tellen niet "
                               "mee in het % APCG")
    report.warnings += [f"{count} {why}" for why, count in skipped.items() if count]
    return report


def _replace_overlap(conn, sector: str, rows: list[dict]) -> None:
    """A school year of a vestiging comes from one file: the newest one read. The yearly file and
    the portal's popostcode4 (or one file saved under two names) give the same pupils, and
    counting both would double them and halve the margin."""
    by_period = defaultdict(set)
    for row in rows:
        by_period[row["period"]].add(row["school_id"])
    for period, ids in by_period.items():
        ids = sorted(ids)
        for i in range(0, len(ids), CHUNK):
            conn.execute(delete(pupil_postcode).where(pupil_postcode.c.sector == sector, pupil_postcode.c.period == period,
                                                      pupil_postcode.c.school_id.in_(ids[i:i + CHUNK])))


def _gemeente_names(conn) -> dict[str, str]:
    """Gemeente name → code, from the CBS gemeente layers loaded (the old files name the pupil's
    gemeente, not its code)."""
    found = conn.execute(select(area.c.name, area.c.code).where(area.c.level == "gemeente")
                         .order_by(area.c.year)).all()
    return {_name_key(name): code for name, code in found}


def _name_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(name).lower()).strip()


def school_year(text: str, file: str, row: int, column: str) -> str:
    """The school year a peildatum (1 October) or peiljaar falls in: 20151001, 1-10-2015,
    2015-10-01 and 2015 all give 2015-2016."""
    text = text.strip()
    found = (re.fullmatch(r"([0-9]{4})([0-9]{2})[0-9]{2}", text) or re.fullmatch(r"([0-9]{4})-([0-9]{1,2})-[0-9]{1,2}", text))
    if found:
        year, month = int(found.group(1)), int(found.group(2))
    elif found := re.fullmatch(r"[0-9]{1,2}-([0-9]{1,2})-([0-9]{4})", text):
        year, month = int(found.group(2)), int(found.group(1))
    elif re.fullmatch(r"[0-9]{4}", text):
        year, month = int(text), 10
    else:
        raise InputError(file, f"'{text}' is not a peildatum; expected e.g. 20151001, 1-10-2015 or a year",
                         row=row, column=column)
    if not 1990 <= year <= 2100 or not 1 <= month <= 12:
        raise InputError(file, f"'{text}' is not a plausible peildatum", row=row, column=column)
    start = year if month >= 8 else year - 1
    return f"{start}-{start + 1}"


def postcode4(table: TextTable, row: dict, column: str) -> str | None:
    """A Dutch PC4 as DUO writes it (3011, '3011', 3011.0, '3011 AB'); None for what is none
    (blank, 'Buitenland', 'onbekend', 0000). Digits other than ASCII are no postcode a file means."""
    text = row[column].strip().upper()
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        raise InputError(table.file, f"'{text}' is not a postcode (ASCII digits expected)", row=row["_row"], column=column)
    found = PC4.match(text)
    return found.group(1) if found else None


def _cells(table: TextTable, row: dict, columns: list[str]) -> tuple[int, int]:
    """The pupils counted in these columns, and how many of them are '<5' (1-4 pupils each)."""
    counted = masked = 0
    for column in columns:
        if row[column].strip().replace(" ", "") in MASKED:
            masked += 1
        else:
            counted += table.count(row, column, required=False) or 0
    return counted, masked


def _old_rows(table: TextTable, schools: dict, names: dict, path: Path) -> tuple[list[dict], dict]:
    ages = [c for c in table.columns if AGE_COLUMN.match(c)]
    if "TOTAAL" not in table.columns and not ages:
        raise InputError(table.file, "missing; expected TOTAAL or the counts per age (L3_MIN … L25_PLUS, "
                                     "LEEFTIJD_4_JAAR …)", column="TOTAAL")
    # The school's own gemeente name and code from the file itself name most pupils' gemeenten too.
    for row in table.rows:
        if row.get("GEMEENTENAAM") and row.get("GEMEENTENUMMER", "").strip():
            try:
                names.setdefault(_name_key(row["GEMEENTENAAM"]), codes.gemeente_code(row["GEMEENTENUMMER"]))
            except ValueError as exc:
                raise InputError(table.file, str(exc), row=row["_row"], column="GEMEENTENUMMER") from None
    rows, skipped = [], defaultdict(int)
    for row in table.rows:
        if row.get("SOORT_PO", "").strip().upper() in SPECIAL:
            skipped["rijen van speciaal (basis)onderwijs overgeslagen (geen enkel schoolcijfer vergelijkt ze)"] += 1
            continue
        sid = school_of(table, row, *_school_columns(table.columns))
        if sid not in schools:
            skipped["rijen van vestigingen die niet in de PO-scholenlijst staan, overgeslagen"] += 1
            continue
        pupils, masked = counted = _cells(table, row, ages)  # every age cell is read, and checked
        if "TOTAAL" in table.columns:
            pupils, masked = _cells(table, row, ["TOTAAL"])
            if not masked and not counted[1] and ages and counted[0] != pupils:
                skipped["rijen waar TOTAAL niet de som van de leeftijden is (TOTAAL gebruikt)"] += 1
        rows.append({"school_id": sid, "sector": "PO", "gemeente_code": schools[sid],
                     "period": school_year(row["PEILDATUM"], table.file, row["_row"], "PEILDATUM"),
                     "pc4": postcode4(table, row, "POSTCODE_LEERLING"), "leerjaar": "",
                     "home_gemeente": names.get(_name_key(row.get("GEMEENTENAAM_LEERLING", ""))),
                     "pupils": pupils, "masked_cells": masked, "_row": row["_row"]})
    return _no_repeats(table, rows), skipped


def _new_rows(table: TextTable, schools: dict, names: dict, path: Path) -> tuple[list[dict], dict]:
    rows, skipped = [], defaultdict(int)
    for row in table.rows:
        if row.get("TYPE_PO", "").strip().upper() in SPECIAL:
            skipped["rijen van speciaal (basis)onderwijs overgeslagen (geen enkel schoolcijfer vergelijkt ze)"] += 1
            continue
        sid = school_of(table, row, "INSTELLINGSCODE", "VESTIGINGSCODE")
        if sid not in schools:
            skipped["rijen van vestigingen die niet in de PO-scholenlijst staan, overgeslagen"] += 1
            continue
        pupils, masked = _cells(table, row, ["AANTAL_LEERLINGEN"])
        rows.append({"school_id": sid, "sector": "PO", "gemeente_code": schools[sid],
                     "period": school_year(row["PEILJAAR"], table.file, row["_row"], "PEILJAAR"),
                     "pc4": postcode4(table, row, "POSTCODE4_DEELNEMER"), "leerjaar": "", "home_gemeente": None,
                     "pupils": pupils, "masked_cells": masked, "_row": row["_row"]})
    return _no_repeats(table, rows), skipped


def _vo_rows(table: TextTable, schools: dict, names: dict, path: Path) -> tuple[list[dict], dict]:
    """One row per VO vestiging × home postcode, pupils per leerjaar summed; the peildatum from a
    PEILDATUM column or the year in DUO's file name (…-leerjaar-2025.csv: 1 October 2025)."""
    years = [c for c in table.columns if VO_YEAR.match(c)]
    if "PEILDATUM" not in table.columns:
        found = YEAR_IN_NAME.findall(path.name)
        if not found:
            raise InputError(table.file, "does not say its peildatum; expected a PEILDATUM column or the year in "
                                         "DUO's file name (…-postcode-en-leerjaar-2025.csv)")
        first, _ = found[-1]
        fixed = f"{first}-{int(first) + 1}"
    brin_col, vest_col = _school_columns(table.columns)
    rows, skipped = [], defaultdict(int)
    for row in table.rows:
        sid = school_of(table, row, brin_col, vest_col)
        if sid not in schools:
            skipped["rijen van vestigingen die niet in de VO-scholenlijst staan, overgeslagen"] += 1
            continue
        pupils, masked = _cells(table, row, years)
        home = None
        if row.get("GEMEENTENUMMER_LEERLING", "").strip():
            try:
                home = codes.gemeente_code(row["GEMEENTENUMMER_LEERLING"])
            except ValueError as exc:
                raise InputError(table.file, str(exc), row=row["_row"], column="GEMEENTENUMMER_LEERLING") from None
        rows.append({"school_id": sid, "sector": "VO", "gemeente_code": schools[sid],
                     "period": (school_year(row["PEILDATUM"], table.file, row["_row"], "PEILDATUM")
                                if "PEILDATUM" in table.columns else fixed),
                     "pc4": postcode4(table, row, "POSTCODE_LEERLING"), "leerjaar": "",
                     "home_gemeente": home or names.get(_name_key(row.get("GEMEENTENAAM_LEERLING", ""))),
                     "pupils": pupils, "masked_cells": masked, "_row": row["_row"]})
    return _no_repeats(table, rows), skipped


def _no_repeats(table: TextTable, rows: list[dict]) -> list[dict]:
    """One cell per vestiging, year and postcode: a file that gives one twice was concatenated
    twice, and its counts would double. (Rows without a Dutch postcode may repeat: abroad,
    unknown.)"""
    seen = {}
    for row in rows:
        key = (row["school_id"], row["period"], row["pc4"], row["leerjaar"])
        if row["pc4"] is None:
            continue
        if key in seen:
            raise InputError(table.file, f"vestiging {row['school_id']}, {row['period']}, postcode {row['pc4']} "
                                         f"occurs twice (also row {seen[key]})", row=row["_row"])
        seen[key] = row["_row"]
    return rows


def small_cell_chances(conn) -> np.ndarray:
    """P(1, 2, 3, 4 pupils) for a '<5' cell: how often unmasked cells of 1-4 pupils occur in the
    PO files loaded, yearly and portal alike (in the yearly files about half are a single pupil);
    uniform without them. Only cells a share counts: a Dutch postcode, a PO school."""
    counts = np.zeros(4)
    for pupils, in conn.execute(select(pupil_postcode.c.pupils).where(
            pupil_postcode.c.sector == "PO", pupil_postcode.c.pc4.is_not(None),
            pupil_postcode.c.masked_cells == 0, pupil_postcode.c.pupils.between(1, 4))):
        counts[pupils - 1] += 1
    return counts / counts.sum() if counts.sum() else np.full(4, 0.25)


def derive_apcg(conn, *, user: str) -> int:
    """Recompute every school's % APCG pupils from the cells and lists stored: one derived
    dataset, replaced whole, so a list or a year loaded later re-matches all of them. Returns
    how many school-years have a figure."""
    lists = apcg_lists(conn)
    cells = conn.execute(select(pupil_postcode.c.school_id, pupil_postcode.c.gemeente_code,
                                pupil_postcode.c.period, pupil_postcode.c.pc4, pupil_postcode.c.pupils,
                                pupil_postcode.c.masked_cells).where(pupil_postcode.c.sector == "PO")).all()
    if not cells or not lists:
        return 0
    chances = small_cell_chances(conn)
    rng = np.random.default_rng(2011)  # the same files give the same figures
    per_school = defaultdict(list)
    for cell in cells:
        if cell.pc4 is not None:  # pupils without a Dutch postcode are in no share
            per_school[(cell.school_id, cell.gemeente_code, cell.period)].append(cell)
    rows = []
    for (sid, gm, period), located in sorted(per_school.items()):
        chosen = list_for(lists, period)
        if chosen is None:
            continue
        pc4s = chosen[2]
        known_in = sum(c.pupils for c in located if c.pc4 in pc4s)
        known_all = sum(c.pupils for c in located)
        masked_in = sum(c.masked_cells for c in located if c.pc4 in pc4s)
        masked_out = sum(c.masked_cells for c in located if c.pc4 not in pc4s)
        if masked_in + masked_out == 0:
            if known_all:
                rows.append(observation_row("apcg_pct", sid, gm, period, known_in / known_all * 100, known_all))
            continue
        draw_in = small_cells(rng, masked_in, chances)
        draw_out = small_cells(rng, masked_out, chances)
        totals = known_all + draw_in + draw_out
        shares = (known_in + draw_in) / totals * 100
        rows.append(estimated_row("apcg_pct", sid, gm, period, shares, totals, float((draw_in + draw_out).mean())))
    dataset_id = start_dataset(conn, kind="afgeleid", name=DERIVED, file_name="(afgeleid)", digest="-",
                               rows=len(rows), user=user)
    return write_observations(conn, rows, dataset_id) if rows else 0

