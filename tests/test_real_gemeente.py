"""A real gemeente on real public data only (issue #13): every page opened as a Rotterdam and
an Amsterdam user on a database filled by ``import-folder`` from ``../shared/data/raw``, the
way the README's quick start does it. The restricted tables are absent, as they are for a new
user; every view must still say something useful."""

import re
import json

import pytest
from streamlit.testing.v1 import AppTest

from gka_dash import db, maps, report, users
from gka_dash.importers.folder import import_folder
from gka_dash.scope import Scope

from .conftest import RAW, raw
from .test_views import APP, PAGES

PASSWORD = "echte-data-wachtwoord"
COOKIE_KEY = "een-eigen-sleutel-van-minstens-32-tekens-lang"
CITIES = {"rotterdam": ("GM0599", "Rotterdam"), "amsterdam": ("GM0363", "Amsterdam")}


@pytest.fixture(scope="module")
def real_url(tmp_path_factory):
    raw("tnocs_vr/wijk.geojson")  # fails loudly when ../shared is missing
    url = f"sqlite:///{tmp_path_factory.mktemp('real') / 'real.sqlite'}"
    engine = db.get_engine(url)
    db.init_db(engine)
    result = import_folder(engine, RAW, year=2015)
    assert not result.failed, result.lines()
    with engine.begin() as conn:
        for username, (code, _) in CITIES.items():
            users.add_user(conn, username, role="gemeente", gemeenten=[code], password=PASSWORD)
    return url


def _open(real_url, monkeypatch, page, username="rotterdam", **params):
    monkeypatch.setenv("GKA_DATABASE_URL", real_url)
    monkeypatch.setenv("GKA_COOKIE_KEY", COOKIE_KEY)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.text_input[0].input(username)
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    at.switch_page(page)
    at.query_params.clear()
    at.query_params.update(params)
    return at.run()


def test_import_folder_recognises_each_file_and_names_what_it_skips(real_url):
    engine = db.get_engine(real_url)
    with engine.connect() as conn:
        kinds = {row[0] for row in conn.exec_driver_sql("select kind || ':' || name from dataset")}
    assert any(k.startswith("areas:wijk 2015") for k in kinds)
    assert any(k.startswith("schools:vestigingen_bo_all_geocoded") for k in kinds)
    assert {"open-data:schooladviezen schooladviezen_per_brin_2019_2025_tidy.csv",
            "open-data:eindtoets gemiddelde-eindscores-bo-sbo-2018-2019.csv"} <= kinds
    assert "open-data:gka gka_gemeenten_bekend.csv" in kinds  # the GKA gemeenten, a peer group (#15)


@pytest.mark.parametrize("username", list(CITIES))
@pytest.mark.parametrize("page", PAGES[:-1])  # Landelijk is for beheerders and regio users
def test_every_page_opens_for_a_big_city_on_public_data(real_url, monkeypatch, username, page):
    at = _open(real_url, monkeypatch, page, username)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert not any("Synthetisch" in str(i.value) for i in at.info)


@pytest.mark.parametrize("username", list(CITIES))
def test_overzicht_shows_key_figures_from_public_data_against_all_gemeenten(real_url, monkeypatch, username):
    at = _open(real_url, monkeypatch, "pages/overzicht.py", username)
    labels = [m.label for m in at.metric]
    assert {"Schooladvies havo of hoger", "Eindtoets (in sd van leerlingen)", "Bijstandsuitkeringen (per 1.000 inw.)"} <= set(labels)
    assert not any(m.value.endswith("…") for m in at.metric)
    references = [c.value for c in at.caption if "alle gemeenten:" in c.value]
    assert len(references) == len(labels) and not any("niet getoond" in r for r in references)


@pytest.mark.parametrize("username", list(CITIES))
def test_gesprek_has_highlights_from_public_data_each_with_a_link(real_url, monkeypatch, username):
    at = _open(real_url, monkeypatch, "pages/gesprek.py", username)
    titles = [re.sub(r"\\(.)", r"\1", m.value) for m in at.markdown if m.value.startswith("**")]  # as read
    assert len(titles) >= 3, titles
    assert any("Schooladvies havo of hoger door de jaren" in t for t in titles)
    # A school is named only beyond the funnel's limits; otherwise the page says none is.
    schools = [t for t in titles if "dan verwacht" in t]
    assert schools or any("Geen school lag in" in c.value for c in at.caption), titles
    assert len(at.get("page_link")) >= 3


def test_kaart_opens_on_a_rate_with_several_classes_for_rotterdam(real_url, monkeypatch):
    at = _open(real_url, monkeypatch, "pages/kaart.py")
    assert at.selectbox(key="filter_indicator").value == "bijstand_per_1000"
    assert at.selectbox(key="filter_periode").value == "2015"
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    wijken = next(layer for layer in deck["layers"] if layer["id"] == "wijken")["data"]
    colours = {tuple(f["fill"]) for f in wijken}
    assert len(wijken) >= 20 and len(colours & {tuple(maps._rgb(c)) for c in maps.SEQUENTIAL}) >= 4


@pytest.mark.parametrize("username", list(CITIES))
def test_report_offers_only_views_with_data_and_is_not_blank(real_url, username):
    code, name = CITIES[username]
    engine, scope = db.get_engine(real_url), Scope.of(code)
    offered = report.available_views(engine, scope, code, name)
    assert offered == ["kaart", "scholen"]
    built = report.build(engine, scope, code, name, views=offered, author="Analist")
    assert len(built.sections) == 2 and len(built.highlights.items) >= 3
    html = report.to_html(built)
    assert html.count("<svg") >= 2 and "Schooladvies" in html


def test_scholen_for_rotterdam_pairs_the_2019_achterstand_with_every_advice_year(real_url, monkeypatch):
    at = _open(real_url, monkeypatch, "pages/scholen.py")
    assert at.selectbox(key="filter_indicator").value == "schooladvies_gem"
    assert at.multiselect(key="filter_jaren").value == [f"{y}-{y + 1}" for y in range(2019, 2025)]
    assert any("gemeten in 2019\\-2020" in c.value or "gemeten in 2019-2020" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert table["School"].nunique() >= 150  # Rotterdam's PO schools, at real scale
    assert _legend_entries(at) == ["Overige scholen"]  # no legend of 170 names
    at.selectbox(key="filter_school").select_index(5).run()
    entries = _legend_entries(at)
    assert len(entries) == 2 and entries[1] == "Overige scholen" and entries[0] in set(table["School"])


def _legend_entries(at) -> list[str]:
    """The colour legend's entries: the domain of the one colour scale in the chart's spec."""
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    domains = [layer["encoding"]["color"]["scale"]["domain"] for layer in spec["layer"]
               if "color" in layer.get("encoding", {}) and "scale" in layer["encoding"]["color"]]
    assert domains and all(d == domains[0] for d in domains)
    return domains[0]


def test_a_link_to_a_gemeente_outside_the_scope_says_so_and_keeps_saying_it(real_url, monkeypatch):
    at = _open(real_url, monkeypatch, "pages/overzicht.py", gemeente="GM0363")
    assert any("GM0363" in e.value and "buiten uw bevoegdheid" in e.value for e in at.error)
    assert "Amsterdam" not in " ".join(m.label for m in at.metric)
    at.run()  # the next rerun (cookie component, a widget) keeps the message
    assert any("GM0363" in e.value for e in at.error)
