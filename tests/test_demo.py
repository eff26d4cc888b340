import pandas as pd
import pytest
import shapely
from sqlalchemy import select

from gka_dash import config, db, demo
from gka_dash.schema import area, dataset, observation, school

from .conftest import snapshot


def _frame(engine, table):
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(select(table)).mappings().all())


def test_demo_is_identical_on_every_build(tmp_path):
    contents = []
    for name in ("a", "b"):
        engine = db.get_engine(f"sqlite:///{tmp_path / name}.sqlite")
        demo.build_demo(engine)
        content = snapshot(engine, surrogate_keys=False)
        contents.append({t: rows for t, rows in content.items() if t in ("area", "school", "observation")})
    assert contents[0] == contents[1]


def test_demo_has_the_shape_the_views_need(sqlite_engine):
    demo.build_demo(sqlite_engine)
    areas, schools, obs = (_frame(sqlite_engine, t) for t in (area, school, observation))
    wijken_per_gm = areas[areas.level == "wijk"].groupby("gemeente_code").size()
    schools_per_gm = schools.groupby("gemeente_code").size()
    assert len(wijken_per_gm) >= 3 and wijken_per_gm.between(8, 50).all()
    assert schools_per_gm.between(10, 200).all()
    # One gemeente the size of a big city, so every view is built and tested at real scale.
    big = wijken_per_gm[wijken_per_gm >= 40].index
    assert len(big) >= 1 and (schools_per_gm[big] >= 150).all()
    assert all(shapely.from_geojson(g).is_valid for g in areas.geometry)
    assert set(obs[obs.indicator_key == "afstroom_pct"].period) == {"2014-2016", "2016-2018"}
    assert set(obs[obs.indicator_key == "toetsadvies_gem"].period) == set(demo.SCHOOL_YEARS)
    assert set(obs[obs.indicator_key == "havo_vwo_17_pct"].group) == {"laag", "midden", "hoog"}
    threshold = config.suppression_threshold()
    for key in ("afstroom_pct", "toetsadvies_gem", "havo_vwo_17_pct"):
        assert (obs[obs.indicator_key == key].n < threshold).any(), f"no small cell for {key}"
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(dataset.c.synthetic)).scalars().all() == [True]
    assert db.is_demo(sqlite_engine)


def _pivot(obs, key, period):
    part = obs[(obs.indicator_key == key) & (obs.period == period)]
    return part.set_index("subject").value


def test_demo_relations_look_like_the_real_ones(sqlite_engine):
    demo.build_demo(sqlite_engine)
    obs = _frame(sqlite_engine, observation)
    joined = pd.concat([_pivot(obs, "afstroom_pct", "2014-2016"), _pivot(obs, "bijstand_per_1000", "2015")],
                       axis=1, keys=["afstroom", "bijstand"]).dropna()
    assert joined.corr().loc["afstroom", "bijstand"] > 0.5
    school = pd.concat([_pivot(obs, "toetsadvies_gem", "2018-2019"), _pivot(obs, "apcg_pct", "2018-2019")],
                       axis=1, keys=["toets", "apcg"]).dropna()
    assert school.corr().loc["toets", "apcg"] < -0.5
    gap = obs[obs.indicator_key == "havo_vwo_17_pct"].groupby("group").value.mean()
    assert gap["hoog"] - gap["laag"] > 25


def test_demo_refuses_a_database_with_real_imports(sqlite_engine, tmp_path):
    from gka_dash.importers.cbs_areas import import_areas
    from .conftest import raw
    import_areas(sqlite_engine, raw("tnocs_vr/gemeente.geojson"), level="gemeente", year=2015)
    with pytest.raises(demo.RealDataPresent):
        demo.build_demo(sqlite_engine)
    assert not db.is_demo(sqlite_engine)


@pytest.mark.parametrize("importer", ["areas", "schools", "open-data", "indicators"])
def test_the_demo_database_refuses_real_imports_and_stays_unchanged(sqlite_engine, tmp_path, capsys, importer):
    """Its accounts and cookie key are published: real data in it would be open to anyone."""
    from gka_dash import cli
    from .conftest import raw, snapshot
    demo.build_demo(sqlite_engine)
    long_format = tmp_path / "maatwerk.csv"
    long_format.write_text("indicator,subject,period,group,value,n\nafstroom_pct,WK990100,2014-2016,,12.5,140\n")
    command = {"areas": ["import-areas", str(raw("tnocs_vr/gemeente.geojson")), "--level", "gemeente", "--year", "2015"],
               "schools": ["import-schools", str(raw("duo_cbs_ginberg_cito/vestigingen_bo_all_geocoded.csv"))],
               "open-data": ["import-open-data", str(raw("apcg/apcg_pc4_LA2014_LA2011-2012.csv"))],
               "indicators": ["import-indicators", str(long_format)]}[importer]
    before = snapshot(sqlite_engine)
    assert cli.main(command) == 2
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "synthetic demo database, which never holds real data" in message[0]
    assert snapshot(sqlite_engine) == before and db.is_demo(sqlite_engine)


def test_first_start_builds_the_demo_only_when_empty(sqlite_engine):
    assert demo.ensure_demo(sqlite_engine) is True
    assert demo.ensure_demo(sqlite_engine) is False
