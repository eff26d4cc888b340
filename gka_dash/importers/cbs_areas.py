"""CBS wijk- en buurtkaart files (shapefile, GeoPackage, GeoJSON, zip; any CRS) → ``area`` rows
plus kerncijfers as context observations.

Geometry is repaired, brought to WGS84, simplified (10 m by default) and rounded to 1e-5°
(about 1 m): small enough for a browser map of a whole gemeente. Simplifying in degrees rather
than in RD New metres spares two reprojections of every vertex, which was most of an import's
time; the tolerance is taken on the latitude scale, so east-west it is a little finer.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete

from .. import codes, registry
from ..errors import InputError
from ..schema import area
from . import vector
from .base import CHUNK, MAX_COUNT, MAX_FEATURES, ImportReport, checksum, read_bytes, start_dataset, write_observations

WGS84 = "EPSG:4326"
# Bounds of the Netherlands (with its coastal water) and a margin; outside means a wrong CRS.
NL_BOUNDS_WGS84 = (3.0, 50.5, 7.5, 53.9)
METRES_PER_DEGREE = 111_320  # of latitude
DEFAULT_SIMPLIFY_M = 10.0
SINGLE_LAYER_SUFFIXES = {".geojson", ".json", ".shp"}
# CBS writes -99999999, -99999998, -99999997 (geheim, ontbreekt, …) in numeric columns up to 2022,
# and -99995, -99997 … from 2023 on; real figures can be negative (vermogen), never this low.
CBS_SENTINEL_BELOW = -99_990
# From 2023 the layers name their columns in full; the kerncijfers this dashboard reads, by the
# name the layers of 2013-2022 give them (docs/bronnen.md, "CBS wijk- en buurtkaart").
LONG_NAMES = {
    "aantal_inwoners": "aant_inw",
    "percentage_personen_0_tot_15_jaar": "p_00_14_jr",
    "bevolkingsdichtheid_inwoners_per_km2": "bev_dichth",
    "gemiddelde_huishoudsgrootte": "gem_hh_gr",
    "percentage_huishoudens_met_kinderen": "p_hh_m_k",
    "gemiddeld_inkomen_per_inwoner": "ink_inw",
    "percentage_huishoudens_met_laag_inkomen": "p_lik_hh",
    "percentage_huishoudens_onder_of_rond_sociaal_minimum": "p_socminh",
}

CODE_COLUMNS = {"gemeente": ("gm_code", "gemeentecode", "statcode"),
                "wijk": ("wk_code", "wijkcode", "statcode"),
                "buurt": ("bu_code", "buurtcode", "statcode")}
NAME_COLUMNS = {"gemeente": ("gm_naam", "gemeentenaam", "statnaam"),
                "wijk": ("wk_naam", "wijknaam", "statnaam"),
                "buurt": ("bu_naam", "buurtnaam", "statnaam")}
WATER_COLUMNS = ("h2o", "water")
LAYER_HINTS = {"gemeente": ("gemeente", "gem_"), "wijk": ("wijk",), "buurt": ("buurt",)}


def import_areas(engine, path: Path, *, level: str, year: int, crs: str | None = None,
                 simplify_m: float = DEFAULT_SIMPLIFY_M, user: str = "cli") -> ImportReport:
    path = Path(path)
    if level not in CODE_COLUMNS:
        raise InputError(path.name, f"level '{level}' is unknown; expected gemeente, wijk or buurt")
    digest = checksum(read_bytes(path))
    frame = _read(path, level, crs)
    frame, dropped_water = _drop_water(frame)
    if frame.empty:
        raise InputError(path.name, f"every one of its {dropped_water} features is water (H2O = JA); "
                                    "expected land areas to import")
    records = _area_records(frame, path.name, level, year, simplify_m)
    context = _context_observations(frame, records, year)

    report = ImportReport(dataset=f"{level} {year} ({path.name})")
    with engine.begin() as conn:
        dataset_id = start_dataset(conn, kind="areas", name=f"{level} {year} {path.name}",
                                   file_name=path.name, digest=digest, rows=len(records), user=user)
        area_codes = [r["code"] for r in records]
        for i in range(0, len(area_codes), CHUNK):
            conn.execute(delete(area).where(area.c.year == year, area.c.code.in_(area_codes[i:i + CHUNK])))
        conn.execute(area.insert(), [{**r, "dataset_id": dataset_id} for r in records])
        stored_obs = write_observations(conn, context, dataset_id)
    report.stored = {f"gebieden ({level})": len(records), "contextwaarnemingen": stored_obs}
    if dropped_water:
        report.warnings.append(f"{dropped_water} gebieden van alleen water overgeslagen")
    return report


def _read(path: Path, level: str, crs: str | None) -> gpd.GeoDataFrame:
    layer = _choose_layer(path, level)
    _check_size(path, layer)
    try:
        frame = vector.read_frame(path, layer)
    except InputError:
        raise
    except Exception as exc:  # pyogrio/GDAL raise many types for unreadable files
        raise InputError(path.name, "cannot be read as a shapefile, GeoPackage or GeoJSON "
                                    f"({str(exc).splitlines()[0][:200]})") from None
    if frame.empty:
        raise InputError(path.name, "contains no features")
    if frame.crs is None:
        if not crs:
            raise InputError(path.name, "has no coordinate reference system (for a shapefile: the "
                                        ".prj file is missing); expected one, or pass --crs "
                                        "EPSG:28992 for CBS RD New coordinates")
        frame = frame.set_crs(crs)
    frame.columns = [c if c == "geometry" else str(c).lower() for c in frame.columns]
    frame = frame.rename(columns={long: short for long, short in LONG_NAMES.items()
                                  if long in frame.columns and short not in frame.columns})
    _check_numbers(frame, path.name)
    return frame.set_geometry("geometry")


def _check_numbers(frame, file: str) -> None:
    """An infinite kerncijfer, or more inhabitants than the country has, is a broken file: one
    line naming the feature and column, not a traceback from the database driver."""
    for column in frame.columns:
        if column == "geometry" or frame[column].dtype == object:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        wrong = np.isinf(values) | ((column == "aant_inw") & (values > MAX_COUNT))
        if wrong.any():
            first = int(np.argmax(wrong))
            raise InputError(file, f"'{values[first]}' is not a finite, plausible number", row=first + 1,
                             column=column.upper())


def _check_size(path: Path, layer: str | None) -> None:
    """Count the features before reading them: a file of millions of features would take the
    app server's memory for minutes before any other check could refuse it."""
    try:
        features = vector.read_info(path, layer)["features"]
    except InputError:
        raise
    except Exception:
        return  # unreadable: _read says so in its own words
    if features > MAX_FEATURES:
        raise InputError(path.name, f"has {features:,} features; a CBS layer of the whole country has about "
                                    f"15.000, and the most an import reads is {MAX_FEATURES:,}".replace(",", "."))


def _choose_layer(path: Path, level: str) -> str | None:
    """A CBS GeoPackage holds gemeenten, wijken and buurten as layers: take the one for level."""
    if path.suffix.lower() in SINGLE_LAYER_SUFFIXES:
        return None
    try:
        layers = vector.list_layers(path)
    except InputError:
        raise
    except Exception:
        return None  # _read reports the unreadable file
    if len(layers) <= 1:
        return None
    matches = [name for name in layers if any(h in name.lower() for h in LAYER_HINTS[level])]
    if len(matches) != 1:
        raise InputError(path.name, f"has layers {', '.join(layers)}; expected exactly one for "
                                    f"level {level}")
    return matches[0]


def _drop_water(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    for column in WATER_COLUMNS:
        if column in frame.columns:
            water = frame[column].astype(str).str.upper().eq("JA")
            return frame[~water], int(water.sum())
    return frame, 0


def _column(frame, file: str, candidates: tuple[str, ...]) -> str:
    for name in candidates:
        if name in frame.columns:
            return name
    found = ", ".join(c for c in frame.columns if c != "geometry")
    raise InputError(file, f"missing; expected one of them, the file has: {found}",
                     column=" or ".join(c.upper() for c in candidates))


def _area_records(frame, file: str, level: str, year: int, simplify_m: float) -> list[dict]:
    code_col = _column(frame, file, CODE_COLUMNS[level])
    name_col = _column(frame, file, NAME_COLUMNS[level])
    area_codes = frame[code_col].astype(str).str.strip().str.upper()
    pattern = codes.LEVEL_PATTERNS[level]
    seen: dict[str, int] = {}
    for feature, code in enumerate(area_codes, start=1):
        if not pattern.match(code):
            raise InputError(file, f"'{code}' is not a {level} code ({pattern.pattern[1:-1]})",
                             row=feature, column=code_col.upper())
        if code in seen:
            raise InputError(file, f"{code} occurs twice (also feature {seen[code]})",
                             row=feature, column=code_col.upper())
        seen[code] = feature
    geometries = _clean_geometries(frame, file, simplify_m)
    names = frame[name_col].fillna("").astype(str).str.strip()
    return [{"code": code, "year": year, "level": level, "name": name or code,
             "gemeente_code": codes.gemeente_of(code), "geometry": geojson}
            for code, name, geojson in zip(area_codes, names, geometries)]


def _clean_geometries(frame, file: str, simplify_m: float) -> list[str]:
    missing = frame.geometry.isna() | frame.geometry.is_empty
    if missing.any():
        raise InputError(file, "has no geometry", row=int(np.argmax(missing.to_numpy())) + 1)
    kinds = frame.geometry.geom_type.to_numpy()
    wrong = ~np.isin(kinds, ["Polygon", "MultiPolygon"])
    if wrong.any():
        first = int(np.argmax(wrong))
        raise InputError(file, f"is a {kinds[first]}; an area must be a Polygon or MultiPolygon", row=first + 1,
                         column="geometry")
    finite = [bool(np.isfinite(shapely.get_coordinates(g)).all()) for g in frame.geometry.to_numpy()]
    if not all(finite):
        raise InputError(file, "has a coordinate that is not a number (NaN or infinite)",
                         row=finite.index(False) + 1, column="geometry")
    try:
        wgs = frame.geometry if frame.crs.equals(WGS84) else frame.geometry.to_crs(WGS84)
    except Exception as exc:
        raise InputError(file, f"cannot be reprojected from {frame.crs} to WGS84: {exc}") from None
    minx, miny, maxx, maxy = wgs.total_bounds
    lo_x, lo_y, hi_x, hi_y = NL_BOUNDS_WGS84
    if not (lo_x <= minx and maxx <= hi_x and lo_y <= miny and maxy <= hi_y):
        raise InputError(file, f"coordinates fall outside the Netherlands when read as {frame.crs}; "
                               "expected the CRS the file declares (check the .prj or pass --crs)")
    geoms = wgs.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = [_polygonal(g) for g in shapely.make_valid(geoms[invalid])]
    if simplify_m > 0:
        geoms = shapely.simplify(geoms, simplify_m / METRES_PER_DEGREE, preserve_topology=True)
    flat = ~np.isin(shapely.get_type_id(geoms), [3, 6]) | (shapely.area(geoms) <= 0)
    if flat.any():
        first = int(np.argmax(flat))
        raise InputError(file, "has no area (its outline is a line or a point once repaired); an area must "
                               "be a Polygon or MultiPolygon that encloses land", row=first + 1, column="geometry")
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, 5))
    # Rounding can collapse a sliver polygon; keep such an area unrounded rather than lose it.
    rounded = np.where(shapely.area(rounded) > 0, rounded, geoms)
    return list(shapely.to_geojson(rounded))


def _polygonal(geom):
    """make_valid may return a collection with stray lines; a map area keeps only its polygons."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polygons = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polygons) if polygons else geom


def _numeric(frame, column: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    return values.where(values > CBS_SENTINEL_BELOW)


def _context_observations(frame, records: list[dict], year: int) -> list[dict]:
    inhabitants = _numeric(frame, "aant_inw") if "aant_inw" in frame.columns else None
    base = pd.DataFrame({"subject": [r["code"] for r in records],
                         "gemeente_code": [r["gemeente_code"] for r in records], "period": str(year),
                         "n": (inhabitants.round().astype("Int64").to_numpy() if inhabitants is not None
                               else pd.array([None] * len(records), dtype="Int64"))})
    series = []
    for ind in registry.CONTEXT_INDICATORS:
        if ind.cbs_column and ind.cbs_column in frame.columns:
            values = _numeric(frame, ind.cbs_column)
        elif ind.per_1000_of and ind.per_1000_of in frame.columns and inhabitants is not None:
            values = _numeric(frame, ind.per_1000_of) / inhabitants.where(inhabitants > 0) * 1000
        else:
            continue
        series.append(base.assign(indicator_key=ind.key, value=values.round(3).to_numpy()))
    if not series:
        return []
    rows = pd.concat(series, ignore_index=True).astype(object)
    return rows.where(rows.notna(), None).to_dict("records")
