"""DUO's "Zittenblijven VO" per vestiging (zittenblijvers, opstromers, afstromers) → the share of a
VO school's pupils that stayed down, moved up or moved down a schooltype from one school year to
the next; per gemeente of the schools; and, where pupils per VO vestiging by home postcode are
loaded, an *estimate* per gemeente of residence.

The file (``docs/bronnen.md``): ``05.-zittenblijvers-niveau-vestiging-2023-2024-tov-2024-2025.csv``,
``;`` and latin-1, one row per vestiging; INSTELLINGSCODE + VESTIGINGSCODE (older: BRINNUMMER +
VESTIGINGSNUMMER), AANTAL_LEERLINGEN (older: TOTAAL LEERLINGEN), AANTAL_ZITTENBLIJVERS,
AANTAL_OPSTROMERS, AANTAL_AFSTROMERS, with ``<5`` for 1-4. The years are in the file name only.

The estimate by residence gives the pupils of gemeente G at school v the rate of school v as a
whole: Σ_v pupils(G, v) · rate(v) / Σ_v pupils(G, v). It assumes a school's pupils from G move
up and down as its other pupils do; the indicator's text says so wherever it is shown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlalchemy import select

from ..errors import InputError
from ..periods import parse_period
from ..schema import observation, pupil_postcode, school
from .base import (IMPUTATIONS, ImportReport, TextTable, estimated_row, observation_row, read_known, refuse_demo,
                   school_of, small_cells, start_dataset, write_observations)

BRIN_COLUMNS = ("INSTELLINGSCODE", "BRINNUMMER", "BRIN_NUMMER")
VEST_COLUMNS = ("VESTIGINGSCODE", "VESTIGINGSNUMMER")
TOTAL_COLUMNS = ("AANTAL_LEERLINGEN", "TOTAAL_LEERLINGEN")
MOVES = {"AANTAL_AFSTROMERS": "afstroom", "AANTAL_OPSTROMERS": "opstroom", "AANTAL_ZITTENBLIJVERS": "zittenblijven"}
YEARS_IN_NAME = re.compile(r"(20[0-9]{2})-(20[0-9]{2})-tov-(20[0-9]{2})-(20[0-9]{2})")
MASKED = ("<5", "<=4", "x", "X")
ESTIMATE = "doorstroom naar woongemeente (schatting)"


def is_doorstroom(columns) -> bool:
    columns = set(columns)
    return set(MOVES) <= columns and any(c in columns for c in BRIN_COLUMNS)


def _first(table: TextTable, candidates: tuple[str, ...]) -> str:
    found = next((c for c in candidates if c in table.columns), None)
    if found is None:
        table.require(candidates[0])
    return found


def period_of(path: Path, table: TextTable, period: str | None) -> str:
    """The base school year: from --period, a SCHOOLJAAR column, or the name DUO gives the file
    ('…-2023-2024-tov-2024-2025.csv' → 2023-2024, the year the pupils were counted first)."""
    if period:
        try:
            parsed = parse_period(period)
        except ValueError as exc:
            raise InputError(path.name, f"--period {exc}") from None
        if parsed.end != parsed.start + 1 or not 2000 <= parsed.start <= 2100:
            raise InputError(path.name, f"--period '{period}' is not a school year such as 2023-2024")
        return parsed.label
    found = YEARS_IN_NAME.search(path.name)
    if found:
        first, second, third, fourth = map(int, found.groups())
        if second != first + 1 or third != second or fourth != third + 1:
            raise InputError(path.name, f"'{found.group(0)}' in the file name is not two consecutive school years")
        return f"{first}-{second}"
    raise InputError(path.name, "does not say its school years; expected DUO's file name "
                                "(…-2023-2024-tov-2024-2025.csv) or --period 2023-2024")


def import_doorstroom(engine, path: Path, *, period: str | None = None, user: str = "cli") -> ImportReport:
    path = Path(path)
    digest, table = read_known(path, is_doorstroom, "is not DUO's Zittenblijven VO file; expected INSTELLINGSCODE "
                               "(or BRINNUMMER), VESTIGINGSCODE, AANTAL_LEERLINGEN, AANTAL_ZITTENBLIJVERS, "
                               "AANTAL_OPSTROMERS and AANTAL_AFSTROMERS")
    label = period_of(path, table, period)
    brin_col, vest_col, total_col = _first(table, BRIN_COLUMNS), _first(table, VEST_COLUMNS), _first(table, TOTAL_COLUMNS)
    report = ImportReport(dataset=f"doorstroom vo {label} ({path.name})")
    rng = np.random.default_rng(2024)
    with engine.begin() as conn:
        refuse_demo(conn, path.name)
        schools = dict(conn.execute(select(school.c.id, school.c.gemeente_code).where(school.c.sector == "VO")).all())
        rows, seen, unknown, estimated = [], {}, 0, 0
        per_gemeente = defaultdict(lambda: np.zeros((IMPUTATIONS, 4)))
        in_masked = defaultdict(float)  # (gemeente, kind) → pupils in '<5' cells of that rate, expected
        for row in table.rows:
            sid = school_of(table, row, brin_col, vest_col)
            if sid in seen:
                raise InputError(table.file, f"vestiging {sid} occurs twice (also row {seen[sid]})", row=row["_row"])
            seen[sid] = row["_row"]
            if sid not in schools:
                unknown += 1
                continue
            total, moves = _consistent(table, row, total_col, rng)
            if total.mean() <= 0:
                continue
            estimated += any(_masked(row[c]) for c in (total_col, *MOVES))
            gm = schools[sid]
            for col, kind in MOVES.items():  # a rate is estimated only where its own cells were '<5'
                masked = 2.5 * (_masked(row[total_col]) + _masked(row[col]))
                rows.append(_row(f"vo_{kind}_pct", sid, gm, label, moves[kind] / total * 100, total, masked))
                in_masked[(gm, kind)] += masked
            per_gemeente[gm] += np.column_stack([total, *moves.values()])
        for gm, sums in per_gemeente.items():
            for i, kind in enumerate(MOVES.values(), start=1):
                rows.append(_row(f"vo_{kind}_gemeente_pct", gm, gm, label, sums[:, i] / sums[:, 0] * 100, sums[:, 0],
                                 in_masked[(gm, kind)]))
        if not rows:
            raise InputError(path.name, "no rows matched a VO school in the school list; import the DUO VO "
                                        "vestigingen list first")
        # One file per pair of school years: a second file for the same years replaces the first whole,
        # so the gemeente's figure is always that of the schools shown with it.
        dataset_id = start_dataset(conn, kind="doorstroom-vo", name=label, file_name=path.name,
                                   digest=digest, rows=len(table.rows), user=user)
        report.stored = {"waarnemingen": write_observations(conn, rows, dataset_id)}
        report.stored["schattingen naar woongemeente"] = derive_residence(conn, user=user)
    if unknown:
        report.warnings.append(f"{unknown} vestigingen staan niet in de VO-scholenlijst en zijn overgeslagen")
    if estimated:
        report.warnings.append(f"{estimated} vestigingen hebben '<5'-cellen (1 tot 4 leerlingen): geschat, en "
                               "meegeteld in de marge")
    return report


def _masked(text: str) -> bool:
    return text.strip().replace(" ", "") in MASKED


def _consistent(table: TextTable, row: dict, total_col: str, rng) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The pupils and their moves as draws that add up: the counted moves together at most the
    counted pupils (else the file is wrong), a '<5' move no more than the pupils left, '<5'
    pupils no fewer than the moves."""
    known = {kind: None if _masked(row[col]) else table.count(row, col, required=False) or 0 for col, kind in MOVES.items()}
    pupils = None if _masked(row[total_col]) else table.count(row, total_col, required=False) or 0
    counted = sum(v for v in known.values() if v is not None)
    if (pupils if pupils is not None else 4) < counted:  # a '<5' total holds 4 pupils at most
        raise InputError(table.file, f"{', '.join(MOVES)} together ({counted}) are more than {total_col} "
                                     f"({pupils if pupils is not None else '<5'}); expected at most the pupils",
                         row=row["_row"])
    moves = {kind: _draws(value, rng) for kind, value in known.items()}
    total = _draws(pupils, rng)
    if pupils is None:
        total = np.maximum(total, sum(moves.values()))
    else:
        for kind, value in known.items():
            if value is None:
                others = sum(m for k, m in moves.items() if k != kind)
                moves[kind] = np.minimum(moves[kind], np.maximum(total - others, 0))
    return total, moves


def _draws(count: int | None, rng) -> np.ndarray:
    """A count as IMPUTATIONS draws: as counted, or for '<5' (None) drawn from 1-4 (no
    distribution of such small counts is known for these files, so each is equally likely)."""
    return small_cells(rng, 1) if count is None else np.full(IMPUTATIONS, float(count))


def _row(key, subject, gm, period, shares: np.ndarray, totals: np.ndarray, in_masked: float) -> dict:
    """A rate over the imputations; exact (one value) when no cell of it was '<5'."""
    if in_masked:
        return estimated_row(key, subject, gm, period, shares, totals, in_masked)
    return observation_row(key, subject, gm, period, float(shares[0]), int(totals[0]))


def derive_residence(conn, *, user: str) -> int:
    """The estimate per gemeente of residence, from each VO school's rates and its pupils by home
    gemeente at the same peildatum. Replaced whole on every import of either file."""
    rates = defaultdict(dict)  # (kind, period) → school → rate
    for key, subject, period, value in conn.execute(
            select(observation.c.indicator_key, observation.c.subject, observation.c.period, observation.c.value)
            .where(observation.c.indicator_key.in_([f"vo_{k}_pct" for k in MOVES.values()]))
            .order_by(observation.c.indicator_key, observation.c.period, observation.c.subject)):
        if value is not None:
            rates[(key, period)][subject] = value
    pupils = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # (period, home) → school → [pupils, '<5' cells]
    for sid, period, home, n, masked in conn.execute(
            select(pupil_postcode.c.school_id, pupil_postcode.c.period, pupil_postcode.c.home_gemeente,
                   pupil_postcode.c.pupils, pupil_postcode.c.masked_cells)
            .where(pupil_postcode.c.sector == "VO", pupil_postcode.c.home_gemeente.is_not(None))
            .order_by(pupil_postcode.c.period, pupil_postcode.c.home_gemeente, pupil_postcode.c.school_id)):
        pupils[(period, home)][sid][0] += n
        pupils[(period, home)][sid][1] += masked
    rng = np.random.default_rng(2025)  # the same files give the same figures
    rows = []
    for (key, period), by_school in rates.items():
        for (p, home), found in pupils.items():
            matched = {sid: counts for sid, counts in found.items() if sid in by_school} if p == period else {}
            if not matched:
                continue
            # Each '<5' cell of pupils by residence holds 1-4 pupils, drawn IMPUTATIONS times
            # (uniformly, as for the moves): the weights, and so the estimate, carry that spread.
            weights = np.column_stack([n + small_cells(rng, masked) for n, masked in matched.values()])
            total = weights.sum(axis=1)
            if total.mean() <= 0:
                continue
            values = weights @ np.array([by_school[sid] for sid in matched]) / total
            masked = 2.5 * sum(masked for _, masked in matched.values())
            rows.append(_row(key.replace("_pct", "_woon_pct"), home, home, period, values, total, masked))
    dataset_id = start_dataset(conn, kind="afgeleid", name=ESTIMATE, file_name="(afgeleid)", digest="-",
                               rows=len(rows), user=user)
    return write_observations(conn, rows, dataset_id) if rows else 0
