"""The views on real CBS/DUO data: the wijken of 2015 with their kerncijfers, the DUO school list
and the public school indicators. The restricted figures (afstroom, ouderopleiding) are absent
from public data, so those views must say so instead of failing."""

import json

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gka_dash import db, users
from gka_dash.importers.cbs_areas import import_areas
from gka_dash.importers.duo_schools import import_schools
from gka_dash.importers.open_data import import_open_data
from gka_dash.schema import observation

from .conftest import raw
from .test_views import APP

PASSWORD = "echte-data-wachtwoord"
GEMEENTE = "GM0599"  # Rotterdam: many wijken, many schools, both public school indicators


@pytest.fixture(scope="module")
def real_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('real') / 'real.sqlite'}"
    engine = db.get_engine(url)
    db.init_db(engine)
    import_areas(engine, raw("tnocs_vr/gemeente.geojson"), level="gemeente", year=2015)
    import_areas(engine, raw("tnocs_vr/wijk.geojson"), level="wijk", year=2015)
    import_schools(engine, raw("duo_cbs_ginberg_cito/vestigingen_bo_all_geocoded.csv"))
    import_open_data(engine, raw("duo_cbs_ginberg_cito/achterstandsscores-scholen-2019_tabel1_2.csv"))
    import_open_data(engine, raw("duo_schooladviezen_nocturnaltomato/schooladviezen_per_brin_2019_2025_tidy.csv"))
    with engine.begin() as conn:
        users.add_user(conn, "rotterdam", role="gemeente", gemeenten=[GEMEENTE], password=PASSWORD, name="Analist")
    return url


COOKIE_KEY = "een-eigen-sleutel-van-minstens-32-tekens-lang"


def _open(real_url, monkeypatch, page, **params):
    monkeypatch.setenv("GKA_DATABASE_URL", real_url)
    monkeypatch.setenv("GKA_COOKIE_KEY", COOKIE_KEY)
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.text_input[0].input("rotterdam")
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    at.switch_page(page)
    at.query_params.clear()
    at.query_params.update(params)
    return at.run()


def test_kaart_draws_every_rotterdam_wijk_with_its_cbs_figure(real_url, monkeypatch):
    at = _open(real_url, monkeypatch, "pages/kaart.py", indicator="inwoners")
    assert not at.exception and not at.error
    assert not any("Synthetisch" in str(i.value) for i in at.info)
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    features = next(layer for layer in deck["layers"] if layer["id"] == "wijken")["data"]
    with db.get_engine(real_url).connect() as conn:
        stored = dict(conn.execute(select(observation.c.subject, observation.c.value).where(
            observation.c.indicator_key == "inwoners", observation.c.subject.like("WK0599%"))).all())
    assert len(features) == len(stored) > 10
    table = at.dataframe[0].value.set_index("Wijkcode")
    for code, value in stored.items():
        shown = table.loc[code]
        if value >= 10:
            assert shown.iloc[1] == value
        else:  # fewer than 10 inhabitants: withheld like any small count, and said so
            assert pd.isna(shown.iloc[1]) and shown["Opmerking"] == "onderdrukt: minder dan 10 inwoners"
    assert len(json.dumps(deck)) < 150_000  # one gemeente's map stays light (issue #4)


def test_scholen_plots_schooladvies_against_achterstand_for_rotterdam(real_url, monkeypatch):
    at = _open(real_url, monkeypatch, "pages/scholen.py")
    assert not at.exception and not at.error
    assert at.selectbox(key="filter_indicator").value == "schooladvies_gem"
    assert at.selectbox(key="filter_x").value == "achterstandsscore_per_100"
    table = at.dataframe[0].value
    assert len(table) > 50 and table["Vestiging"].str.len().eq(6).all()
    assert any("Stippellijn" in c.value for c in at.caption)  # the expected line, fitted on real schools


@pytest.mark.parametrize("page, message", [("pages/afstroom.py", "Geen gegevens over afstroom"),
                                           ("pages/ouderopleiding.py", "Geen gegevens naar opleiding")])
def test_views_without_restricted_data_say_so(real_url, monkeypatch, page, message):
    at = _open(real_url, monkeypatch, page)
    assert not at.exception
    assert any(message in str(i.value) for i in at.info)
