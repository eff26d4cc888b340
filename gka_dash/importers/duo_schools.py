"""DUO vestigingen lists (CSV with ',' or ';', UTF-8 or latin-1, optionally geocoded) and school
point files → ``school`` rows, each placed in its wijk by a point-in-polygon join.

Schools without usable coordinates are stored and reported, never dropped silently: they still
carry indicators, they just cannot be drawn on the map or given a wijk.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import delete, func, select

from .. import codes
from ..errors import InputError
from ..schema import area, school
from . import vector
from .base import CHUNK, ImportReport, TextTable, checksum, normalise_column, read_bytes, read_table, start_dataset

GEO_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip"}
NL_BOUNDS_WGS84 = (3.0, 50.6, 7.4, 53.7)
NAME_COLUMNS = ("VESTIGINGSNAAM", "INSTELLINGSNAAM_VESTIGING", "INSTELLINGSNAAM")


def import_schools(engine, path: Path, *, sector: str | None = None, wijk_year: int | None = None,
                   user: str = "cli") -> ImportReport:
    path = Path(path)
    digest = checksum(read_bytes(path))
    table = _read(path)
    table.require("BRIN_NUMMER", "VESTIGINGSNUMMER", "GEMEENTENUMMER")
    name_col = next((c for c in NAME_COLUMNS if c in table.columns), None)
    if name_col is None:
        table.require(NAME_COLUMNS[0])
    sector = sector or ("VO" if "ONDERWIJSSTRUCTUUR" in table.columns or "_vo" in path.name.lower() else "PO")
    records = _records(table, name_col, sector)

    report = ImportReport(dataset=f"{sector}-scholen ({path.name})")
    with engine.begin() as conn:
        wijken, used_year = _wijk_layer(conn, wijk_year)
        _assign_wijk(records, wijken)
        dataset_id = start_dataset(conn, kind="schools", name=path.name, file_name=path.name,
                                   digest=digest, rows=len(records), user=user)
        ids = [r["id"] for r in records]
        _keep_known_coordinates(conn, records)
        for i in range(0, len(ids), CHUNK):
            conn.execute(delete(school).where(school.c.id.in_(ids[i:i + CHUNK])))
        conn.execute(school.insert(), [{**r, "dataset_id": dataset_id} for r in records])

    no_coords = [r["id"] for r in records if r["lon"] is None]
    no_wijk = [r["id"] for r in records if r["lon"] is not None and r["wijk_code"] is None]
    report.stored = {"scholen": len(records)}
    if no_coords:
        report.warnings.append(f"{len(no_coords)} scholen zonder coördinaten (opgeslagen, niet op de "
                               f"kaart): {', '.join(no_coords[:10])}{' …' if len(no_coords) > 10 else ''}")
    if used_year is None:
        report.warnings.append("nog geen wijken geladen: de scholen hebben geen wijk; lees eerst de wijken in "
                               "en daarna de scholen opnieuw")
    elif no_wijk:
        report.warnings.append(f"{len(no_wijk)} scholen liggen buiten elke wijk van {used_year}: "
                               f"{', '.join(no_wijk[:10])}{' …' if len(no_wijk) > 10 else ''}")
    return report


def _read(path: Path) -> TextTable:
    if path.suffix.lower() not in GEO_SUFFIXES:
        return read_table(path, allow_latin1=True, normalise=normalise_column)
    try:
        frame = vector.read_frame(path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path.name, f"cannot be read as a point file ({str(exc).splitlines()[0][:200]})") from None
    if frame.crs is None:
        raise InputError(path.name, "has no coordinate reference system; expected one (e.g. EPSG:4326)")
    frame = frame.to_crs("EPSG:4326")
    points = frame.geometry.representative_point()
    data = frame.drop(columns="geometry")
    data.columns = [normalise_column(c) for c in data.columns]
    data = data.astype(object).where(data.notna(), "").astype(str)
    data["LAT"] = [f"{p.y:.6f}" if p is not None and not p.is_empty else "" for p in points]
    data["LONG"] = [f"{p.x:.6f}" if p is not None and not p.is_empty else "" for p in points]
    rows = data.to_dict("records")
    for feature, row in enumerate(rows, start=1):
        row["_row"] = feature
    return TextTable(path.name, list(data.columns), rows, decimal_comma=False)


def _records(table: TextTable, name_col: str, sector: str) -> list[dict]:
    lon_col = next((c for c in ("LONG", "LON", "LNG", "X") if c in table.columns), None)
    lat_col = "LAT" if "LAT" in table.columns else None
    seen: dict[str, int] = {}
    records = []
    for row in table.rows:
        try:
            sid = codes.school_id(row["BRIN_NUMMER"], row["VESTIGINGSNUMMER"])
        except ValueError as exc:
            raise InputError(table.file, str(exc), row=row["_row"], column="VESTIGINGSNUMMER") from None
        if sid in seen:
            raise InputError(table.file, f"school {sid} occurs twice (also row {seen[sid]})",
                             row=row["_row"], column="VESTIGINGSNUMMER")
        seen[sid] = row["_row"]
        try:
            gm = codes.gemeente_code(row["GEMEENTENUMMER"])
        except ValueError as exc:
            raise InputError(table.file, str(exc), row=row["_row"], column="GEMEENTENUMMER") from None
        lon = table.number(row, lon_col, required=False) if lon_col else None
        lat = table.number(row, lat_col, required=False) if lat_col else None
        if lon is None or lat is None or not _in_nl(lon, lat):
            lon = lat = None
        records.append({
            "id": sid, "brin": sid[:4], "name": row[name_col].strip() or sid, "sector": sector,
            "gemeente_code": gm, "postcode": row.get("POSTCODE", "").replace(" ", "").upper() or None,
            "plaats": row.get("PLAATSNAAM", "").strip().title() or None,
            "lon": lon, "lat": lat, "wijk_code": None,
        })
    return records


def _keep_known_coordinates(conn, records: list[dict]) -> None:
    """An address list without coordinates must not erase coordinates a geocoded file gave."""
    lacking = {r["id"]: r for r in records if r["lon"] is None}
    ids = list(lacking)
    for i in range(0, len(ids), CHUNK):
        for row in conn.execute(select(school.c.id, school.c.lon, school.c.lat, school.c.wijk_code)
                                .where(school.c.id.in_(ids[i:i + CHUNK]), school.c.lon.is_not(None))):
            lacking[row.id].update(lon=row.lon, lat=row.lat, wijk_code=row.wijk_code)


def _in_nl(lon: float, lat: float) -> bool:
    x0, y0, x1, y1 = NL_BOUNDS_WGS84
    return x0 <= lon <= x1 and y0 <= lat <= y1


def _wijk_layer(conn, year: int | None) -> tuple[gpd.GeoDataFrame | None, int | None]:
    """The wijken of ``year``, or of the most recent year imported."""
    if year is None:
        year = conn.execute(select(func.max(area.c.year)).where(area.c.level == "wijk")).scalar()
    if year is None:
        return None, None
    rows = conn.execute(select(area.c.code, area.c.geometry).where(
        area.c.level == "wijk", area.c.year == year)).all()
    if not rows:
        raise InputError(str(year), "no wijk areas of that year are imported")
    geoms = shapely.from_geojson([r.geometry for r in rows])
    return gpd.GeoDataFrame({"wijk_code": [r.code for r in rows]}, geometry=geoms, crs="EPSG:4326"), year


def _assign_wijk(records: list[dict], wijken: gpd.GeoDataFrame | None) -> None:
    located = [r for r in records if r["lon"] is not None]
    if wijken is None or not located:
        return
    points = gpd.GeoDataFrame(
        {"i": range(len(located))},
        geometry=gpd.points_from_xy([r["lon"] for r in located], [r["lat"] for r in located]),
        crs="EPSG:4326")
    joined = gpd.sjoin(points, wijken, how="left", predicate="within").drop_duplicates("i")
    for i, code in zip(joined["i"], joined["wijk_code"]):
        located[i]["wijk_code"] = None if pd.isna(code) else code
