"""Public DUO/CBS school files (see ``../shared/data/raw/SOURCES.md``) → school observations.

- eindtoets means 2018-2019: each test provider has its own scale (CET 501-550, IEP 50-100,
  Route 8 100-300, …), so raw means are kept per provider and one comparable figure is made:
  per provider the school mean's distance from the pupil-weighted mean of all schools, in
  standard deviations of *pupils* (estimated, see ``_pupil_spread``), averaged over the
  providers a school used, weighted by pupils (registry entry ``eindtoets_gem``). Speciaal
  basisonderwijs is left out, as in every school figure.
- CBS achterstandsscores 2019 (the tidy CSV of Tabel 1 and 2).
- schooladviezen per BRIN 2019-2025: DUO publishes per BRIN, so the figure is attached to the
  BRIN's hoofdvestiging (the lowest vestiging number in the school list) and says so.
- APCG postcode lists: a flag for schools whose own PC4 is an APCG, and the lists themselves,
  which pupils by home postcode (``duo_postcodes``) turn into the % of pupils from an APCG.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlalchemy import delete, select

from .. import codes, registry
from ..errors import InputError
from ..schema import apcg_list, school
from .base import (IMPUTATIONS, ImportReport, TextTable, checksum, estimated_row, normalise_column, observation_row,
                   read_bytes, read_table, refuse_demo, school_of, small_cells, start_dataset,
                   write_observations)
from .duo_postcodes import derive_apcg

KINDS = ("eindtoets", "achterstand", "schooladviezen", "apcg", "gka")


def detect_kind(table: TextTable) -> str:
    columns = set(table.columns)
    if "CET_GEM" in columns:
        return "eindtoets"
    if {"BRIN_VESTIGING", "ACHTERSTANDSSCORE"} <= columns:
        return "achterstand"
    if {"BRIN", "SCHOOLJAAR", "VWO_N_MID"} <= columns:
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
            select(school.c.id, school.c.brin, school.c.name, school.c.gemeente_code, school.c.postcode,
                   school.c.sector))}
        rows = _PARSERS[kind](table, schools, report)
        if not rows and kind != "apcg":
            raise InputError(path.name, "no rows matched a school in the school list; import the "
                                        "DUO vestigingen list first")
        dataset_id = start_dataset(conn, kind="open-data", name=f"{kind} {path.name}",
                                   file_name=path.name, digest=digest, rows=len(table.rows), user=user)
        report.stored = {"waarnemingen": write_observations(conn, rows, dataset_id)}
        if kind == "apcg":
            _store_apcg_lists(conn, table, dataset_id, user, report)
    return report


def _eindtoets(table: TextTable, schools, report: ImportReport) -> list[dict]:
    table.require("BRIN_NUMMER", "VESTIGINGSNUMMER", "GEMEENTENUMMER")
    providers = [p for p in registry.EINDTOETS_PROVIDERS if f"{p}_GEM" in table.columns]
    period = "2018-2019"
    rows, per_school = [], defaultdict(list)  # school → [(provider, mean, pupils)]
    special = 0
    for row in table.rows:
        if row.get("SOORT_PO", "").strip().lower() == "sbo":
            special += 1  # one rule for every school figure: speciaal basisonderwijs is not compared
            continue
        sid = school_of(table, row, "BRIN_NUMMER", "VESTIGINGSNUMMER")
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
                rows.append(observation_row(f"eindtoets_{p.lower()}", sid, gm, period, mean, int(pupils)))
    stats, ratios = {}, []
    for p in providers:
        means = np.array([m for entries in per_school.values() for q, m, _ in entries if q == p])
        weights = np.array([w for entries in per_school.values() for q, _, w in entries if q == p], dtype=float)
        if len(means) >= 2:
            centre = float(np.average(means, weights=weights))
            between = float(np.sqrt(np.average((means - centre) ** 2, weights=weights))) or 1.0
            pupil = _pupil_spread(means, weights, centre) if len(means) >= MOMENT_MIN_SCHOOLS else None
            stats[p] = [centre, between, pupil]
            if pupil:
                ratios.append(pupil / between)
    for p, entry in stats.items():  # a small provider: the ratio pupil/school spread of the big ones
        if entry[2] is None:
            entry[2] = entry[1] * (float(np.median(ratios)) if ratios else 1.0)
    stats = {p: (centre, pupil) for p, (centre, _, pupil) in stats.items()}
    for (sid, gm), entries in per_school.items():
        scored = [((m - stats[p][0]) / stats[p][1], w) for p, m, w in entries if p in stats]
        if scored:
            z = sum(s * w for s, w in scored) / sum(w for _, w in scored)
            rows.append(observation_row("eindtoets_gem", sid, gm, period, z, sum(w for _, w in scored)))
    if special:
        report.warnings.append(f"{special} vestigingen van speciaal basisonderwijs overgeslagen: de schoolcijfers "
                               "vergelijken alleen reguliere basisscholen (zoals de schooladviezen en "
                               "achterstandsscores)")
    report.warnings.append(f"toetsaanbieders: {', '.join(providers)}; "
                           f"{sum(1 for sid, _ in per_school if sid not in schools)} scholen staan niet "
                           "in de scholenlijst (opgeslagen, getoond zodra de lijst ze heeft)")
    return rows


# The standard deviation of single pupils' scores is not in the file (it has school means); it
# follows from how the spread of school means shrinks with size: E[(mᵢ − μ)²] = τ² + σ²/nᵢ, a
# regression of squared deviations on 1/n (method of moments). For the Centrale Eindtoets 2019
# this gives σ ≈ 9,9 points, as Cito reports for pupils. Providers with fewer schools than
# MOMENT_MIN_SCHOOLS get the median ratio σ / (spread of school means) of the others.
MOMENT_MIN_SCHOOLS = 500


def _pupil_spread(means: np.ndarray, weights: np.ndarray, centre: float) -> float | None:
    design = np.column_stack([np.ones(len(means)), 1 / weights])
    _, slope = np.linalg.lstsq(design, (means - centre) ** 2, rcond=None)[0]
    return float(np.sqrt(slope)) if slope > 0 else None


def _achterstand(table: TextTable, schools, report: ImportReport) -> list[dict]:
    table.require("BRIN_VESTIGING", "AANTAL_BEKOSTIGDE_LEERLINGEN", "ACHTERSTANDSSCORE", "SCORE_ZONDER_DREMPEL")
    rows, unknown = [], 0
    for row in table.rows:
        sid = school_of(table, row, "BRIN_VESTIGING", None)
        if sid not in schools:
            unknown += 1
            continue
        pupils = table.count(row, "AANTAL_BEKOSTIGDE_LEERLINGEN")
        score = table.number(row, "ACHTERSTANDSSCORE", required=False)
        raw = table.number(row, "SCORE_ZONDER_DREMPEL", required=False)
        gm = schools[sid].gemeente_code
        rows.append(observation_row("achterstandsscore", sid, gm, "2019-2020", score, int(pupils)))
        if raw is not None and pupils > 0:
            rows.append(observation_row("achterstandsscore_per_100", sid, gm, "2019-2020",
                                     raw / pupils * 100, int(pupils)))
    if unknown:
        report.warnings.append(f"{unknown} scholen staan niet in de scholenlijst en zijn overgeslagen")
    return rows


ADVIES_COLUMNS = {f"{key.upper()}_N_MID": value for key, value in registry.ADVIES_SCALE.items()}
ALL_COLUMNS = ("VSO_N_MID", *ADVIES_COLUMNS, "ADVIES_NIET_MOGELIJK_N_MID")  # the file's order, n = their sum
HAVO_VWO_COLUMNS = ("HAVO_N_MID", "HAVO_VWO_N_MID", "VWO_N_MID")  # what the label says: havo or higher
# From school year 2022-2023 on DUO writes counts of 1-4 as '<5', and the file's author replaced
# each such cell by 2 (SOURCES.md). The true counts are imputed from the distribution of counts
# 1-4 in the years before the masking (the same file), IMPUTATIONS times; the spread over the
# imputations is the part of a figure's uncertainty the masking adds (docs/statistiek.md).
MASKED_FROM = int(registry.METHOD_BREAK[:4])


def _small_counts(table: TextTable) -> np.ndarray:
    """P(count = 1, 2, 3, 4) for a cell of 1-4 pupils, measured in the file's unmasked years
    (2019-2022: 2,15 on average, where the file's stand-in is 2); uniform without such years."""
    seen = np.zeros(4)
    for row in table.rows:
        if table.period(row, "SCHOOLJAAR")[:4] < str(MASKED_FROM):
            for col in ALL_COLUMNS:
                value = table.count(row, col)
                if 1 <= value <= 4:
                    seen[value - 1] += 1
    return seen / seen.sum() if seen.sum() else np.full(4, 0.25)


def _imputed(counts: np.ndarray, masked: bool, chances: np.ndarray, rng) -> np.ndarray:
    """IMPUTATIONS × columns of counts: a masked cell (its stand-in 1-4, taken as one '<5' cell
    per 2 pupils) drawn from ``chances``; every other cell as counted."""
    draws = np.repeat(counts[None, :].astype(float), IMPUTATIONS, axis=0)
    if masked:
        for i in np.flatnonzero((counts >= 1) & (counts <= 4)):
            cells = max(1, int(round(counts[i] / 2)))
            draws[:, i] = small_cells(rng, cells, chances)
    return draws


def _schooladviezen(table: TextTable, schools, report: ImportReport) -> list[dict]:
    table.require("BRIN", "SCHOOLJAAR", *ALL_COLUMNS)
    hoofdvestiging = {}
    for sid in sorted(schools):
        if schools[sid].sector == "PO":
            hoofdvestiging.setdefault(schools[sid].brin, sid)
    chances = _small_counts(table)
    rng = np.random.default_rng(2022_2023)  # the same file gives the same figures
    scale = np.array([ADVIES_COLUMNS.get(col, 0.0) for col in ALL_COLUMNS])
    on_scale = np.array([col in ADVIES_COLUMNS for col in ALL_COLUMNS])
    high = np.array([col in HAVO_VWO_COLUMNS for col in ALL_COLUMNS])
    rows, unknown, estimated = [], set(), 0
    for row in table.rows:
        brin = row["BRIN"].strip().upper()
        sid = hoofdvestiging.get(brin)
        if sid is None:
            unknown.add(brin)
            continue
        gm = schools[sid].gemeente_code
        period = table.period(row, "SCHOOLJAAR")
        counts = np.array([table.count(row, col) for col in ALL_COLUMNS])
        masked = int(period[:4]) >= MASKED_FROM
        draws = _imputed(counts, masked, chances, rng)
        in_masked = np.where(masked & (counts >= 1) & (counts <= 4), draws, 0).sum(axis=1).mean()
        estimated += int(in_masked > 0)
        total, advised = draws.sum(axis=1), (draws * on_scale).sum(axis=1)
        if total.mean() > 0:
            share = (draws * high).sum(axis=1) / np.maximum(total, 1) * 100
            rows.append(estimated_row("schooladvies_havo_vwo_pct", sid, gm, period, share, total, in_masked))
        if advised.mean() > 0:
            mean = (draws * scale).sum(axis=1) / np.maximum(advised, 1)
            rows.append(estimated_row("schooladvies_gem", sid, gm, period, mean, advised, in_masked))
        if "NAAM" in table.columns:
            rows.append(observation_row("schooladvies_andere_naam", sid, gm, period,
                                     0.0 if _same_school(row["NAAM"], schools[sid].name) else 1.0))
    if unknown:
        report.warnings.append(f"{len(unknown)} BRIN-nummers staan niet in de PO-scholenlijst en zijn overgeslagen")
    report.warnings.append(f"{estimated} schooljaren hebben DUO-cellen '<5', {IMPUTATIONS} keer geschat "
                           f"uit de aantallen 1-4 van de jaren zonder '<5' (gemiddeld {np.arange(1, 5) @ chances:.2f})")
    return rows


def _words(name: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", name.lower()) if len(w) >= 4
            and w not in ("school", "basisschool", "openbare", "christelijke", "katholieke", "stichting")}


def _same_school(one: str, other: str) -> bool:
    """Whether two names can be of one school: they share a distinctive word (a BRIN whose
    advice file names another school was renumbered or restructured)."""
    first, second = _words(one), _words(other)
    return not first or not second or bool(first & second)


def apcg_postcodes(table: TextTable) -> dict[str, set[str]]:
    """The PC4s of each list in an APCG file (column APCG_2014 → list "2014")."""
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
    return flagged


def _apcg(table: TextTable, schools, report: ImportReport) -> list[dict]:
    rows = []
    for sid, s in schools.items():
        if s.sector != "PO" or not s.postcode:
            continue
        for period, pc4s in apcg_postcodes(table).items():
            rows.append(observation_row("apcg_postcode", sid, s.gemeente_code, period,
                                        1.0 if s.postcode[:4] in pc4s else 0.0))
    return rows


def _store_apcg_lists(conn, table: TextTable, dataset_id: int, user: str, report: ImportReport) -> None:
    """Keep the lists themselves, so pupils by home postcode (loaded before or after) are matched
    to them: the share of a school's pupils from an APCG."""
    lists = apcg_postcodes(table)
    conn.execute(delete(apcg_list).where(apcg_list.c.list.in_(list(lists))))
    conn.execute(apcg_list.insert(), [{"list": name, "first_year": int(name[:4]), "pc4": pc4, "dataset_id": dataset_id}
                                      for name, pc4s in lists.items() for pc4 in sorted(pc4s)])
    derived = derive_apcg(conn, user=user)
    report.facts += [f"APCG-lijst L+A {name}: {len(pc4s)} postcodes" for name, pc4s in lists.items()]
    if derived:
        report.stored["scholen × schooljaren met % APCG (alle geladen bestanden, opnieuw berekend)"] = derived


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
        rows.append(observation_row("gka_gemeente", gm, gm, year, 1.0))
    return rows


_PARSERS = {"eindtoets": _eindtoets, "achterstand": _achterstand,
            "schooladviezen": _schooladviezen, "apcg": _apcg, "gka": _gka}
