import json

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Polygon
from sqlalchemy import select

from gka_dash import info
from gka_dash.cli import main
from gka_dash.importers.cbs_areas import import_areas
from gka_dash.schema import area, observation

from .conftest import raw, snapshot

REAL_FILES = [("tnocs_vr/wijk.geojson", "wijk", 2015), ("tnocs_vr/gemeente.geojson", "gemeente", 2015),
              ("mapnl/gem_2017.geojson", "gemeente", 2017)]


@pytest.mark.parametrize("relative, level, year", REAL_FILES)
def test_cli_import_reports_as_many_areas_as_geopandas_reads(engine, capsys, relative, level, year):
    path = raw(relative)
    assert main(["import-areas", str(path), "--level", level, "--year", str(year)]) == 0
    capsys.readouterr()
    assert main(["info", "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    assert reported["areas"][level][str(year)] == len(gpd.read_file(path))


def test_buurt_layer_imports_every_buurt_with_its_wijk_gemeente(sqlite_engine):
    path = raw("tnocs_vr/buurt.geojson")
    import_areas(sqlite_engine, path, level="buurt", year=2015)
    source = gpd.read_file(path)
    with sqlite_engine.connect() as conn:
        stored = dict(conn.execute(select(area.c.code, area.c.gemeente_code).where(area.c.level == "buurt")).all())
    assert len(stored) == len(source)
    assert all(stored[row.BU_CODE] == row.GM_CODE for row in source.itertuples())


def test_rd_new_shapefile_is_reprojected_to_wgs84(engine, tmp_path):
    """The real CBS download format: a shapefile in EPSG:28992."""
    source = gpd.read_file(raw("tnocs_vr/wijk.geojson"))
    utrecht = source[source.GM_CODE == "GM0344"]
    shp = tmp_path / "wijk_2015.shp"
    utrecht.to_crs("EPSG:28992").to_file(shp)
    import_areas(engine, shp, level="wijk", year=2015)
    with engine.connect() as conn:
        rows = conn.execute(select(area.c.code, area.c.geometry).where(area.c.gemeente_code == "GM0344")).all()
    assert len(rows) == len(utrecht)
    by_code = {code: shapely.from_geojson(g) for code, g in rows}
    for row in utrecht.itertuples():
        stored = by_code[row.WK_CODE]
        # Same place within the simplification tolerance (10 m ≈ 0.00015°), in lon/lat.
        assert stored.centroid.distance(row.geometry.centroid) < 0.0005
        assert 4.9 < stored.centroid.x < 5.3 and 51.9 < stored.centroid.y < 52.2


def test_reimporting_the_same_file_changes_nothing(engine):
    path = raw("tnocs_vr/gemeente.geojson")
    import_areas(engine, path, level="gemeente", year=2015)
    first = snapshot(engine, surrogate_keys=False)
    import_areas(engine, path, level="gemeente", year=2015)
    second = snapshot(engine, surrogate_keys=False)
    volatile = {"dataset", "setting", "audit_log"}  # import time, data version, log entries
    assert {k: v for k, v in first.items() if k not in volatile} == \
           {k: v for k, v in second.items() if k not in volatile}


def _tiny_layer(tmp_path, **columns):
    squares = [Polygon([(5.0 + i * 0.01, 52.0), (5.01 + i * 0.01, 52.0), (5.01 + i * 0.01, 52.01),
                        (5.0 + i * 0.01, 52.01)]) for i in range(3)]
    data = {"WK_CODE": ["WK099901", "WK099902", "WK099903"], "WK_NAAM": ["A", "B", "C"],
            "GM_CODE": ["GM0999"] * 3, **columns}
    path = tmp_path / "tiny.geojson"
    gpd.GeoDataFrame(data, geometry=squares, crs="EPSG:4326").to_file(path)
    return path


def test_cbs_sentinels_become_missing_not_numbers(engine, tmp_path):
    path = _tiny_layer(tmp_path, AANT_INW=[1200, -99999999, 800], P_N_W_AL=[12, 30, -99999997])
    import_areas(engine, path, level="wijk", year=2015)
    with engine.connect() as conn:
        values = dict(conn.execute(select(observation.c.subject, observation.c.value)
                                   .where(observation.c.indicator_key == "pct_niet_westers")).all())
        inhabitants = dict(conn.execute(select(observation.c.subject, observation.c.value)
                                        .where(observation.c.indicator_key == "inwoners")).all())
    assert values == {"WK099901": 12.0, "WK099902": 30.0, "WK099903": None}
    assert inhabitants["WK099902"] is None


def test_a_layer_of_2023_on_with_long_names_letters_in_codes_and_new_sentinels(engine, tmp_path):
    """The GeoPackage of 2023 and later (docs/bronnen.md): names in full, Amsterdam's wijk codes
    with letters, -99995 for a figure CBS does not give; a real negative figure would stay."""
    squares = [Polygon([(4.9 + i * 0.01, 52.37), (4.91 + i * 0.01, 52.37), (4.91 + i * 0.01, 52.38),
                        (4.9 + i * 0.01, 52.38)]) for i in range(3)]
    frame = gpd.GeoDataFrame({
        "wijkcode": ["WK0363MB", "WK0363AF", "WK036301"], "wijknaam": ["Burgwallen-Oude Zijde", "Frederik", "Water"],
        "gemeentecode": ["GM0363"] * 3, "water": ["NEE", "NEE", "JA"],
        "aantal_inwoners": [4200, 9800, 0], "percentage_personen_0_tot_15_jaar": [7, -99995, -99995],
        "gemiddeld_inkomen_per_inwoner": [41.5, 33.2, -99997],
        "percentage_huishoudens_met_laag_inkomen": [9.5, -99995, -99995]},
        geometry=squares, crs="EPSG:4326")
    path = tmp_path / "wijkenbuurten_2024_v1.gpkg"
    frame.to_file(path, layer="wijken")
    import_areas(engine, path, level="wijk", year=2024)
    with engine.connect() as conn:
        codes = set(conn.execute(select(area.c.code)).scalars())
        found = {(k, s): v for k, s, v in conn.execute(
            select(observation.c.indicator_key, observation.c.subject, observation.c.value))}
    assert codes == {"WK0363MB", "WK0363AF"}  # water dropped, letters kept
    assert found[("inkomen_per_inwoner", "WK0363MB")] == 41.5 and found[("inwoners", "WK0363AF")] == 9800
    assert found[("pct_0_14_jr", "WK0363AF")] is None and found[("pct_hh_laag_inkomen", "WK0363MB")] == 9.5
    assert found[("pct_hh_laag_inkomen", "WK0363AF")] is None


def test_water_only_areas_are_dropped(engine, tmp_path):
    path = _tiny_layer(tmp_path, H2O=["NEE", "JA", "NEE"])
    report = import_areas(engine, path, level="wijk", year=2015)
    with engine.connect() as conn:
        codes = conn.execute(select(area.c.code)).scalars().all()
    assert sorted(codes) == ["WK099901", "WK099903"]
    assert "1 gebieden van alleen water" in report.warnings[0]


def test_invalid_polygon_is_repaired(engine, tmp_path):
    bowtie = Polygon([(5.0, 52.0), (5.02, 52.02), (5.02, 52.0), (5.0, 52.02), (5.0, 52.0)])
    assert not bowtie.is_valid
    path = tmp_path / "bowtie.geojson"
    gpd.GeoDataFrame({"WK_CODE": ["WK099901"], "WK_NAAM": ["Strik"]}, geometry=[bowtie],
                     crs="EPSG:4326").to_file(path)
    import_areas(engine, path, level="wijk", year=2015)
    with engine.connect() as conn:
        stored = shapely.from_geojson(conn.execute(select(area.c.geometry)).scalar_one())
    assert stored.is_valid and stored.geom_type in ("Polygon", "MultiPolygon")
    assert stored.area == pytest.approx(bowtie.buffer(0).area + Polygon([(5.0, 52.0), (5.01, 52.01), (5.0, 52.02)]).area, rel=0.1)


def test_one_gemeente_map_stays_small(sqlite_engine):
    """Design §8: a gemeente's wijk map must be light enough for a browser (< 150 KB)."""
    import_areas(sqlite_engine, raw("tnocs_vr/wijk.geojson"), level="wijk", year=2015)
    with sqlite_engine.connect() as conn:
        sizes = {}
        for gm, geometry in conn.execute(select(area.c.gemeente_code, area.c.geometry)):
            sizes[gm] = sizes.get(gm, 0) + len(geometry)
    assert max(sizes.values()) < 150_000
    assert info.summary(sqlite_engine)["areas"]["wijk"]["2015"] == 2796
