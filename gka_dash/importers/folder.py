"""A folder of CBS/DUO downloads → every importer, in the order the data depends on.

Areas come first (schools get their wijk from them) with the StatLine kerncijfers, then the school
lists (the open-data files attach to schools), then the public school figures (APCG lists before
the pupils by home postcode that are matched to them), and the restricted long-format tables last
(they refer to wijken and schools). Each file is recognised by its columns, not its name alone;
a file that is none of these is listed by name with the reason, never half-read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


from ..errors import GkaError, InputError
from . import vector
from .base import ImportReport, normalise_column, read_table
from .cbs_areas import import_areas
from .duo_doorstroom import import_doorstroom, is_doorstroom
from .duo_postcodes import import_pupils_by_postcode, is_pupils_by_postcode
from .duo_schools import import_schools
from .indicators_csv import COLUMNS as LONG_COLUMNS
from .indicators_csv import import_indicators
from .open_data import detect_kind, import_open_data
from .statline import import_kerncijfers, is_kerncijfers, read_rows

GEO_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip"}
LEVEL_ORDER = {"gemeente": 0, "wijk": 1, "buurt": 2}
YEAR_IN_NAME = re.compile(r"(?<!\d)(19[89]\d|20\d\d)(?!\d)")


@dataclass
class Planned:
    """One recognised file: what it is, when it goes, and how to import it."""

    path: Path
    what: str
    order: tuple
    run: Callable[..., ImportReport]


@dataclass
class FolderReport:
    imported: list[tuple[Path, ImportReport]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{len(self.imported)} bestanden ingelezen, {len(self.skipped)} overgeslagen, "
               f"{len(self.failed)} mislukt"]
        out += [f"  ingelezen {p.name}: {r.summary()}" for p, r in self.imported]
        out += [f"  overgeslagen {p.name}: {why}" for p, why in self.skipped]
        out += [f"  MISLUKT {p.name}: {why}" for p, why in self.failed]
        return out


LEVEL_COLUMNS = (("buurt", ("bu_code", "buurtcode")), ("wijk", ("wk_code", "wijkcode")),
                 ("gemeente", ("gm_code", "gemeentecode")))


def _geo_plan(path: Path, year: int | None) -> list[Planned] | str:
    """A map file: school points, or CBS layers; a GeoPackage of 2021 on holds gemeenten, wijken
    and buurten as three layers, each of which becomes its own import."""
    try:
        layers = vector.list_layers(path) if path.suffix.lower() == ".gpkg" else []
        infos = [vector.read_info(path, layer) for layer in layers] if len(layers) > 1 else [vector.read_info(path)]
    except InputError as exc:
        return exc.detail
    except Exception:
        return "not a readable GeoJSON, GeoPackage, shapefile or zip"
    planned = []
    for info in infos:
        columns = {str(c).lower() for c in info["fields"]}
        geometry = str(info.get("geometry_type") or "")
        if "Point" in geometry and "vestigingsnummer" in columns:
            sector = "VO" if "onderwijsstructuur" in columns or "_vo" in path.name.lower() else "PO"
            return [Planned(path, f"{sector}-scholen (puntbestand)", (1, sector, 1, path.name),
                            lambda engine, **kw: import_schools(engine, path, sector=sector, **kw))]
        level = next((level for level, names in LEVEL_COLUMNS if columns & set(names)), None)
        if level is None:
            continue
        found = YEAR_IN_NAME.findall(path.stem)
        chosen = int(found[-1]) if found else year
        if chosen is None:
            return f"CBS {level} layer without a year in its name; pass --year"
        planned.append(Planned(path, f"CBS {level} {chosen}", (0, LEVEL_ORDER[level], chosen, path.name),
                               lambda engine, level=level, chosen=chosen, **kw:
                               import_areas(engine, path, level=level, year=chosen, **kw)))
    return planned or "a map file without CBS gm_code, wk_code or bu_code columns (or gemeentecode, wijkcode, buurtcode)"


def _csv_plan(path: Path) -> Planned | str:
    try:
        table = read_table(path, allow_latin1=True, normalise=normalise_column)
    except InputError as exc:
        return exc.detail
    columns = set(table.columns)
    if {c.upper() for c in LONG_COLUMNS} <= columns:
        return Planned(path, "indicatoren (lang formaat)", (3, path.name),
                       lambda engine, **kw: import_indicators(engine, path, **kw))
    if {"BRIN_NUMMER", "VESTIGINGSNUMMER", "VESTIGINGSNAAM"} <= columns:
        sector = "VO" if "ONDERWIJSSTRUCTUUR" in columns or "_vo" in path.name.lower() else "PO"
        located = 2 if {"LAT", "LONG"} <= columns or {"LAT", "LON"} <= columns else 0
        return Planned(path, f"{sector}-scholen", (1, sector, located, path.name),
                       lambda engine, **kw: import_schools(engine, path, sector=sector, **kw))
    if is_pupils_by_postcode(columns):
        return Planned(path, "leerlingen naar postcode (DUO)", (2.5, path.name),
                       lambda engine, **kw: import_pupils_by_postcode(engine, path, **kw))
    if is_doorstroom(columns):
        return Planned(path, "doorstroom vo (DUO)", (2.6, path.name),
                       lambda engine, **kw: import_doorstroom(engine, path, **kw))
    if is_kerncijfers(table.columns):
        return _kerncijfers_plan(path)
    try:
        kind = detect_kind(table)
    except InputError:
        return ("not a file this dashboard reads (expected CBS areas, a DUO school list, DUO/CBS "
                "eindtoets, achterstandsscores, schooladviezen, an APCG list, pupils by postcode, vo doorstroom, "
                "CBS kerncijfers, the GKA list or the long format)")
    return Planned(path, f"open data: {kind}", (2, kind, path.name),
                   lambda engine, **kw: import_open_data(engine, path, kind=kind, **kw))


def _kerncijfers_plan(path: Path) -> Planned:
    return Planned(path, "CBS kerncijfers wijken en buurten", (0.5, path.name),
                   lambda engine, **kw: import_kerncijfers(engine, path, **kw))


def _json_plan(path: Path, year: int | None) -> Planned | str:
    """A .json is a StatLine export (rows with Codering and Aantal inwoners) or GeoJSON."""
    try:
        rows = read_rows(path)
    except InputError as exc:
        if "nested" in exc.detail:
            return exc.detail  # too deep to be either (a large file may still be GeoJSON)
        rows = []
    if rows and is_kerncijfers(rows[0]):
        return _kerncijfers_plan(path)
    return _geo_plan(path, year)


def plan(folder: Path, *, year: int | None = None) -> tuple[list[Planned], list[tuple[Path, str]]]:
    """Which files of the folder (and its subfolders) will be imported, in order, and which not."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(str(folder), "is not a folder")
    planned, skipped = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix == ".json":
            found = _json_plan(path, year)
        elif suffix in GEO_SUFFIXES:
            found = _geo_plan(path, year)
        elif suffix == ".csv":
            found = _csv_plan(path)
        else:
            found = f"file type {suffix or '(none)'} is not read (expected .csv, .geojson, .gpkg, .shp or .zip)"
        if isinstance(found, str):
            skipped.append((path, found))
        else:
            planned.extend([found] if isinstance(found, Planned) else found)
    return _one_school_list_per_sector(sorted(planned, key=lambda p: p.order), skipped)


def _one_school_list_per_sector(planned: list[Planned], skipped: list) -> tuple[list[Planned], list]:
    """Of several lists of the same sector only the best is read (geocoded CSV, then a point
    file, then a list without coordinates): lists of different years would otherwise overwrite
    each other school by school, and the last one read would win by accident."""
    best = {}
    for item in planned:
        if item.order[0] == 1:
            sector, rank = item.order[1], item.order[2]
            if sector not in best or rank > best[sector].order[2]:
                best[sector] = item
    kept = []
    for item in planned:
        if item.order[0] == 1 and best[item.order[1]] is not item:
            skipped.append((item.path, f"another {item.order[1]} school list is read instead: "
                                        f"{best[item.order[1]].path.name}"))
        else:
            kept.append(item)
    return kept, skipped


def import_folder(engine, folder: Path, *, year: int | None = None, user: str = "cli",
                  progress: Callable[[int, int, Planned], None] = lambda i, total, item: None) -> FolderReport:
    """Import every recognised file, each in its own transaction: a bad file is reported and
    leaves the database as it was, and the files after it still go in."""
    planned, skipped = plan(folder, year=year)
    report = FolderReport(skipped=skipped)
    for i, item in enumerate(planned, start=1):
        progress(i, len(planned), item)
        try:
            report.imported.append((item.path, item.run(engine, user=user)))
        except GkaError as exc:
            report.failed.append((item.path, str(exc)))
    return report
