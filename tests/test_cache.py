"""The read cache: a warm cache never answers another scope, a later import, a rebuilt database
or a stricter threshold with what it stored before."""

import pytest

from gka_dash import analysis, db, demo, queries

from .conftest import as_real
from gka_dash.errors import ScopeError
from gka_dash.importers.indicators_csv import import_indicators
from gka_dash.scope import Scope

REGIO, VEENHAVEN = Scope.of("GM9901", "GM9902"), Scope.of("GM9901")


def test_a_warm_cache_never_answers_another_scope(demo_engine):
    assert list(queries.gemeenten(demo_engine, REGIO)["code"]) == ["GM9902", "GM9901"]  # by name
    queries.observations(demo_engine, REGIO, "afstroom_pct", gemeente="GM9902")
    assert list(queries.gemeenten(demo_engine, VEENHAVEN)["code"]) == ["GM9901"]
    with pytest.raises(ScopeError):
        queries.observations(demo_engine, VEENHAVEN, "afstroom_pct", gemeente="GM9902")
    with pytest.raises(ScopeError):
        analysis.area_values(demo_engine, VEENHAVEN, "GM9902", "afstroom_pct", "2016-2018")
    everything = queries.observations(demo_engine, Scope.everything(), "afstroom_pct").rows
    mine = queries.observations(demo_engine, VEENHAVEN, "afstroom_pct").rows
    assert set(everything["gemeente_code"]) == {"GM9901", "GM9902", "GM9903", "GM9904", "GM9905"}
    assert set(mine["gemeente_code"]) == {"GM9901"}


def test_an_import_is_seen_by_the_next_read(demo_engine, tmp_path):
    as_real(demo_engine)
    before = analysis.area_values(demo_engine, REGIO, "GM9901", "afstroom_pct", "2016-2018").frame
    wijk = before.loc[before["status"] == analysis.SHOWN, "code"].iloc[0]
    csv = tmp_path / "nieuw.csv"
    csv.write_text(f"indicator,subject,period,group,value,n\nafstroom_pct,{wijk},2016-2018,,42.5,80\n")
    import_indicators(demo_engine, csv)
    after = analysis.area_values(demo_engine, REGIO, "GM9901", "afstroom_pct", "2016-2018").frame
    assert after.set_index("code").loc[wijk, "value"] == 42.5
    assert before.set_index("code").loc[wijk, "value"] != 42.5


def test_a_rebuilt_database_at_the_same_url_is_read_afresh(sqlite_engine):
    demo.build_demo(sqlite_engine)
    assert len(queries.gemeenten(sqlite_engine, Scope.everything())) == len(demo.GEMEENTEN)
    version = db.data_version(sqlite_engine)
    db.drop_all(sqlite_engine)
    db.init_db(sqlite_engine)
    with sqlite_engine.begin() as conn:  # same URL, same data version, but empty
        for _ in range(version):
            db.bump_data_version(conn)
    assert db.data_version(sqlite_engine) == version
    assert queries.gemeenten(sqlite_engine, Scope.everything()).empty


def test_a_stricter_threshold_is_not_answered_from_a_laxer_one(demo_engine, monkeypatch):
    monkeypatch.setenv("GKA_SUPPRESSION_THRESHOLD", "5")
    lax = queries.observations(demo_engine, VEENHAVEN, "afstroom_pct", gemeente="GM9901").rows
    monkeypatch.setenv("GKA_SUPPRESSION_THRESHOLD", "10")
    strict = queries.observations(demo_engine, VEENHAVEN, "afstroom_pct", gemeente="GM9901").rows
    assert (lax["n"] < 10).any()  # the planted cell (n = 7)
    assert strict["n"].min() >= 10


def test_changing_a_result_does_not_change_the_cache(demo_engine):
    first = analysis.area_values(demo_engine, REGIO, "GM9901", "afstroom_pct", "2016-2018")
    first.frame["value"] = -1.0
    again = analysis.area_values(demo_engine, REGIO, "GM9901", "afstroom_pct", "2016-2018")
    assert (again.frame["value"].dropna() >= 0).all()
