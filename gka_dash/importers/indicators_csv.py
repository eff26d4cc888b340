"""The long-format CSV through which restricted figures enter (design §3, a contract):

    indicator,subject,period,group,value,n

UTF-8, with ',' or the Dutch Excel variant with ';' and a decimal comma. Every row is checked
against the registry and the imported areas and schools before anything is written.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from .. import registry
from ..errors import InputError
from ..periods import parse_period
from ..schema import area, school
from .base import ImportReport, checksum, read_bytes, read_table, start_dataset, write_observations

COLUMNS = ("indicator", "subject", "period", "group", "value", "n")
MAX_UNBOUNDED = 1e9  # the ceiling of a unit without one (inhabitants, per km²): more is a broken file


def import_indicators(engine, path: Path, *, user: str = "cli") -> ImportReport:
    path = Path(path)
    digest = checksum(read_bytes(path))
    table = read_table(path, allow_latin1=False, normalise=lambda c: c.strip().lower())
    table.require(*COLUMNS)
    with engine.begin() as conn:
        subjects = _known_subjects(conn)
        rows = _validated_rows(table, subjects)
        dataset_id = start_dataset(conn, kind="indicators", name=path.name, file_name=path.name,
                                   digest=digest, rows=len(rows), user=user)
        stored = write_observations(conn, rows, dataset_id)
    return ImportReport(dataset=f"indicatoren ({path.name})", stored={"waarnemingen": stored})


def _known_subjects(conn) -> dict[str, dict[str, str]]:
    """level → {code: gemeente}; gemeente codes also count as known through their wijken."""
    known: dict[str, dict[str, str]] = {"gemeente": {}, "wijk": {}, "buurt": {}, "school": {}}
    for code, level, gm in conn.execute(select(area.c.code, area.c.level, area.c.gemeente_code).distinct()):
        known[level][code] = gm
        known["gemeente"][gm] = gm
    for sid, gm in conn.execute(select(school.c.id, school.c.gemeente_code)):
        known["school"][sid] = gm
    return known


def _validated_rows(table, subjects) -> list[dict]:
    rows, seen = [], {}
    for row in table.rows:
        line = row["_row"]
        key = row["indicator"].strip()
        if key not in registry.INDICATORS:
            raise InputError(table.file, f"unknown indicator '{key}'; expected one of "
                                         f"{', '.join(sorted(registry.INDICATORS))}", row=line, column="indicator")
        ind = registry.INDICATORS[key]
        subject = row["subject"].strip().upper()
        levels = ("gemeente", "wijk", "buurt") if ind.level == "area" else (ind.level,)
        gm = next((subjects[lv][subject] for lv in levels if subject in subjects[lv]), None)
        if gm is None:
            what = "/".join(levels)
            hint = ("a school id (BRIN + vestiging) from the imported school list" if ind.level == "school"
                    else f"a {what} code of the imported CBS areas")
            raise InputError(table.file, f"unknown {what} '{subject}'; expected {hint}", row=line, column="subject")
        try:
            period = parse_period(row["period"]).label
        except ValueError as exc:
            raise InputError(table.file, str(exc), row=line, column="period") from None
        group = row["group"].strip().lower()
        if group not in ind.groups:
            expected = ", ".join(g or "(empty)" for g in ind.groups)
            raise InputError(table.file, f"group '{group}' is not valid for {key}; expected {expected}",
                             row=line, column="group")
        value = table.number(row, "value", required=False)
        low, high = ind.bounds
        high = MAX_UNBOUNDED if high is None else high  # no count or density of the Netherlands is larger
        if value is not None and (value < low or value > high):
            raise InputError(table.file, f"{value:g} is outside the range of {key} ({low:g} to {high:g})",
                             row=line, column="value")
        n = table.count(row, "n")
        identity = (key, subject, period, group)
        if identity in seen:
            raise InputError(table.file, f"duplicate of row {seen[identity]} (same indicator, subject, "
                                         "period and group)", row=line)
        seen[identity] = line
        rows.append({"indicator_key": key, "subject": subject, "gemeente_code": gm, "period": period,
                     "group": group, "value": value, "n": int(n)})
    return rows
