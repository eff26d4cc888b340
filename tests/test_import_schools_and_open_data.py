import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from gka_dash import registry
from gka_dash.importers.cbs_areas import import_areas
from gka_dash.importers.duo_schools import import_schools
from gka_dash.importers.indicators_csv import import_indicators
from gka_dash.importers.open_data import import_open_data
from gka_dash.schema import observation, school

from .conftest import raw

BO_GEOCODED = "duo_cbs_ginberg_cito/vestigingen_bo_all_geocoded.csv"


@pytest.fixture
def with_schools(engine):
    import_areas(engine, raw("tnocs_vr/wijk.geojson"), level="wijk", year=2015)
    report = import_schools(engine, raw(BO_GEOCODED))
    return engine, report


def test_schools_without_coordinates_are_stored_and_reported(with_schools):
    engine, report = with_schools
    source = pd.read_csv(raw(BO_GEOCODED), dtype=str)
    missing = int(source["lat"].isna().sum())
    with engine.connect() as conn:
        stored = conn.execute(select(school.c.id, school.c.lon)).all()
    assert len(stored) == len(source)
    without = [sid for sid, lon in stored if lon is None]
    assert len(without) >= missing
    assert f"{len(without)} scholen zonder coördinaten" in report.warnings[0]


def test_schools_get_the_wijk_an_independent_spatial_join_gives(with_schools):
    engine, _ = with_schools
    source = pd.read_csv(raw(BO_GEOCODED), dtype=str).dropna(subset=["lat"])
    points = gpd.GeoDataFrame({"id": source["VESTIGINGSNUMMER"]},
                              geometry=gpd.points_from_xy(source["long"].astype(float), source["lat"].astype(float)),
                              crs="EPSG:4326")
    wijken = gpd.read_file(raw("tnocs_vr/wijk.geojson"))[["WK_CODE", "geometry"]]
    expected = gpd.sjoin(points, wijken, predicate="within").drop_duplicates("id").set_index("id")["WK_CODE"]
    with engine.connect() as conn:
        stored = dict(conn.execute(select(school.c.id, school.c.wijk_code)).all())
    agree = sum(stored.get(sid) == code for sid, code in expected.items())
    # Simplifying the polygons (10 m) may move a school on a border into the neighbour wijk.
    assert agree / len(expected) > 0.99


def test_vo_list_is_recognised_as_vo(engine):
    import_schools(engine, raw("duo_cbs_ginberg_cito/vestigingen_vo_all_geocoded.csv"))
    with engine.connect() as conn:
        assert set(conn.execute(select(school.c.sector).distinct()).scalars()) == {"VO"}


def test_school_point_geojson_imports_every_point(engine):
    import_schools(engine, raw("tnocs_vr/scholenonderwijs_bo.geojson"))
    with engine.connect() as conn:
        count = len(conn.execute(select(school.c.id).where(school.c.lon.is_not(None))).all())
    assert count == len(gpd.read_file(raw("tnocs_vr/scholenonderwijs_bo.geojson")))


def _values(engine, key):
    with engine.connect() as conn:
        return {(s, p): (v, n) for s, p, v, n in conn.execute(
            select(observation.c.subject, observation.c.period, observation.c.value, observation.c.n)
            .where(observation.c.indicator_key == key))}


def test_eindtoets_keeps_raw_scores_and_standardises_per_provider(with_schools):
    engine, _ = with_schools
    path = raw("duo_cbs_ginberg_cito/gemiddelde-eindscores-bo-sbo-2018-2019.csv")
    import_open_data(engine, path)
    source = pd.read_csv(path, sep=";", encoding="latin-1", dtype=str)
    for column in [c for c in source.columns if c.endswith(("_AANTAL", "_GEM"))]:
        source[column] = pd.to_numeric(source[column].str.strip().str.replace(",", "."), errors="coerce")
    cet = source[(source.CET_AANTAL > 0) & source.CET_GEM.notna() & (source.SOORT_PO == "Bo")]  # blank: small groups
    raw_scores = _values(engine, "eindtoets_cet")
    special = source[source.SOORT_PO == "Sbo"]  # one rule for every school figure: no speciaal basisonderwijs
    assert not {(r.BRIN_NUMMER + r.VESTIGINGSNUMMER.zfill(2), "2018-2019") for r in special.itertuples()} & set(raw_scores)
    for row in cet.head(50).itertuples():
        value, n = raw_scores[(row.BRIN_NUMMER + row.VESTIGINGSNUMMER.zfill(2), "2018-2019")]
        assert value == pytest.approx(row.CET_GEM, abs=1e-3) and n == row.CET_AANTAL
    z = _values(engine, "eindtoets_gem")
    cet_only = cet[(source.loc[cet.index, ["IEP_AANTAL", "ROUTE8_AANTAL", "DIA_AANTAL", "AMN_AANTAL"]].fillna(0) == 0).all(axis=1)]
    zs = np.array([z[(r.BRIN_NUMMER + r.VESTIGINGSNUMMER.zfill(2), "2018-2019")][0] for r in cet_only.itertuples()])
    # A school with only the CET is ranked within the CET: higher raw mean, higher z.
    order = np.argsort(cet_only.CET_GEM.to_numpy())
    assert np.all(np.diff(zs[order]) >= -1e-6)
    weights = np.array([z[(r.BRIN_NUMMER + r.VESTIGINGSNUMMER.zfill(2), "2018-2019")][1] for r in cet_only.itertuples()])
    assert abs(np.average(zs, weights=weights)) < 0.2


def test_schooladviezen_mean_uses_the_documented_scale(with_schools):
    engine, _ = with_schools
    path = raw("duo_schooladviezen_nocturnaltomato/schooladviezen_per_brin_2019_2025_tidy.csv")
    import_open_data(engine, path)
    source = pd.read_csv(path)
    stored = _values(engine, "schooladvies_gem")
    row = source[(source.brin == "00AP") & (source.schooljaar == "2020-2021")].iloc[0]
    counts = {k: row[f"{k}_n_mid"] for k in registry.ADVIES_SCALE}
    expected = sum(registry.ADVIES_SCALE[k] * c for k, c in counts.items()) / sum(counts.values())
    assert stored[("00AP00", "2020-2021")][0] == pytest.approx(expected, abs=1e-3)
    # The label: havo, havo/vwo or vwo of every advised pupil; the file's pct_havo_vwo_mid also counts vmbo-gt/havo.
    total = sum(row[f"{k}_n_mid"] for k in ("vso", *registry.ADVIES_SCALE, "advies_niet_mogelijk"))
    share = (row["havo_n_mid"] + row["havo_vwo_n_mid"] + row["vwo_n_mid"]) / total * 100
    stored_share = _values(engine, "schooladvies_havo_vwo_pct")[("00AP00", "2020-2021")][0]
    assert stored_share == pytest.approx(share, abs=1e-3) and stored_share != row.pct_havo_vwo_mid


def test_apcg_flags_schools_by_their_own_postcode(with_schools):
    engine, _ = with_schools
    path = raw("apcg/apcg_pc4_LA2014_LA2011-2012.csv")
    import_open_data(engine, path)
    apcg = pd.read_csv(path, dtype={"pc4": str})
    flagged_2014 = set(apcg.loc[apcg.apcg_2014 == 1, "pc4"])
    schools = pd.read_csv(raw(BO_GEOCODED), dtype=str).dropna(subset=["POSTCODE"])
    expected = {r.VESTIGINGSNUMMER: float(r.POSTCODE[:4] in flagged_2014) for r in schools.itertuples()}
    stored = {s: v for (s, p), (v, _) in _values(engine, "apcg_postcode").items() if p == "2014"}
    assert stored == expected
    assert sum(stored.values()) > 0


def test_achterstandsscores_are_attached_to_known_schools(with_schools):
    engine, _ = with_schools
    path = raw("duo_cbs_ginberg_cito/achterstandsscores-scholen-2019_tabel1_2.csv")
    import_open_data(engine, path)
    source = pd.read_csv(path).set_index("brin_vestiging")
    stored = _values(engine, "achterstandsscore")
    for (sid, period), (value, n) in list(stored.items())[:100]:
        assert period == "2019-2020"
        assert value == pytest.approx(source.loc[sid, "achterstandsscore"])
        assert n == source.loc[sid, "aantal_bekostigde_leerlingen"]


def test_long_format_accepts_dutch_excel_variant(engine, tmp_path):
    from gka_dash.demo import build_demo
    from .conftest import as_real
    build_demo(engine)
    as_real(engine)
    path = tmp_path / "maatwerk.csv"
    path.write_text("indicator;subject;period;group;value;n\n"
                    "afstroom_pct;WK990100;2014-2016;;12,5;140\n"
                    "havo_vwo_17_pct;GM9901;2019;hoog;81,25;310\n", encoding="utf-8")
    report = import_indicators(engine, path)
    assert report.stored == {"waarnemingen": 2}
    assert _values(engine, "afstroom_pct")[("WK990100", "2014-2016")] == (12.5, 140)
    with engine.connect() as conn:
        row = conn.execute(select(observation).where(observation.c.period == "2019",
                                                   observation.c.indicator_key == "havo_vwo_17_pct")).one()
    assert (row.group, row.value, row.n, row.gemeente_code) == ("hoog", 81.25, 310, "GM9901")
