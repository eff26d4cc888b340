"""The analysis views as a user meets them (AppTest on the demo), checked against figures computed
directly from the database, with planted small cells that must appear nowhere."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gka_dash import demo
from gka_dash.schema import area, audit_log, observation, school

from .conftest import PLANTED, dutch

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PASSWORDS = {u: pw for u, _, _, pw, _ in demo.DEMO_USERS}
PAGES = ["pages/overzicht.py", "pages/kaart.py", "pages/afstroom.py", "pages/scholen.py",
         "pages/ouderopleiding.py", "pages/gesprek.py", "pages/landelijk.py"]

AFSTROOM_MAP = "afstroom_kaart_open"  # the Afstroom map opens on request


def open_page(page: str, username: str = "veenhaven", *, session: dict | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input(username)
    at.text_input[1].input(PASSWORDS[username])
    at.button[0].click()
    at.run()
    at.switch_page(page)
    at.query_params.clear()
    at.query_params.update(params)
    for key, value in {AFSTROOM_MAP: True, **(session or {})}.items():  # every test sees the whole page
        at.session_state[key] = value
    return at.run()


def everything(at: AppTest, downloads=()) -> str:
    """All a user could see or take away: text, tables, map JSON, chart data, downloaded files."""
    parts = [str(getattr(e, "value", "")) for kind in ("markdown", "caption", "title", "subheader", "info",
                                                        "error", "warning") for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [df.value.to_csv() for df in at.dataframe]
    parts += [h.proto.body for h in at.get("html")]
    parts += [d.proto.json for d in at.get("deck_gl_json_chart")]
    for chart in at.get("vega_lite_chart"):
        parts.append(chart.proto.spec)
        for dataset in chart.proto.datasets:
            parts.append(pa.ipc.open_stream(dataset.data.data).read_pandas().to_csv())
    parts += [data.decode("utf-8-sig", errors="ignore") if isinstance(data, bytes) else str(data)
              for _, data in downloads]
    return "\n".join(parts)


PEER_SENTENCE = re.compile(r"Vergelijkbare gemeenten\\?: de \d+ gemeenten die het meest lijken[^\n]*")


def leaks(value: float, decimals: int, seen: str) -> list[str]:
    """The forms in which a planted value could surface: raw in chart data, rounded as the view
    shows it (decimal comma or point), not as part of a longer number."""
    rounded = f"{value:.{decimals}f}"
    found = [repr(value)] if repr(value) in seen else []
    return found + [t for t in {rounded, rounded.replace(".", ",")}
                    if re.search(rf"(?<![\d.,]){re.escape(t)}(?![\d])", seen)]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("username", ["beheer", "regio", "veenhaven", "waldersum"])
def test_every_page_renders_for_every_role(demo_engine, page, username):
    at = open_page(page, username)
    assert not at.exception, at.exception
    assert not at.error
    assert any("Synthetisch (demo)" in str(i.value) for i in at.info)


@pytest.mark.parametrize("key, subject, period, group, value, decimals, page", PLANTED)
def test_planted_small_cell_appears_nowhere_not_even_in_downloads(demo_engine, downloads, key, subject, period,
                                                                  group, value, decimals, page):
    at = open_page(page)
    assert not at.exception
    seen = everything(at, downloads)
    assert not leaks(value, decimals, seen)
    assert re.search(r"niet getoond \(onderdrukt: minder dan 10 (leerlingen|jongeren)\)", seen)
    assert any(name.endswith(".csv") for name, _ in downloads)
    assert not downloads.eager  # nothing is sent before the click


@pytest.mark.parametrize("key, subject, period, group, value, decimals, page", PLANTED)
def test_planted_cell_does_show_once_the_threshold_allows_it(demo_engine, downloads, monkeypatch, key, subject,
                                                             period, group, value, decimals, page):
    """The control for the test above: the same view shows the cell once n=7 passes the threshold."""
    monkeypatch.setenv("GKA_SUPPRESSION_THRESHOLD", "5")
    at = open_page(page)
    assert leaks(value, decimals, everything(at, downloads))


def _direct(engine, key: str) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(observation.c.subject, observation.c.gemeente_code, observation.c.period,
                                   observation.c.group, observation.c.value, observation.c.n)
                            .where(observation.c.indicator_key == key)).all()
    frame = pd.DataFrame(rows, columns=["subject", "gemeente_code", "period", "group", "value", "n"])
    return frame[frame["n"] >= 10]


def demo_names() -> dict[str, str]:
    return {code: name for code, name, *_ in demo.GEMEENTEN}


def _nl(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def _pct(value: float) -> str:
    return f"{value:.1f} %".replace(".", ",")


def test_kaart_table_holds_the_stored_value_of_each_wijk(demo_engine):
    at = open_page("pages/kaart.py", indicator="opstroom_pct", periode="2014-2016")
    table = at.dataframe[0].value.set_index("Wijkcode")
    direct = _direct(demo_engine, "opstroom_pct")
    direct = direct[(direct["gemeente_code"] == "GM9901") & (direct["period"] == "2014-2016")]
    column = "Opstroom in het vo 2014-2016 (%)"
    assert at.selectbox(key="filter_indicator").value == "opstroom_pct"
    assert at.selectbox(key="filter_periode").value == "2014-2016"
    for row in direct.itertuples():
        assert table.loc[row.subject, column] == _nl(row.value, 1)  # as a Dutch reader reads it


@pytest.mark.parametrize("username, gemeenten", [("regio", {"GM9901", "GM9902"}),
                                                 ("beheer", {"GM9901", "GM9902", "GM9903", "GM9904", "GM9905"}),
                                                 ("veenhaven", {"GM9901"})])  # not in its menu; by URL
def test_landelijk_maps_every_wijk_in_scope_with_its_stored_value(demo_engine, username, gemeenten):
    at = open_page("pages/landelijk.py", username, indicator="opstroom_pct", periode="2016-2018")
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    mapped = {f["naam"][-9:-1] for f in deck["layers"][0]["data"]}
    names = demo_names()
    assert all(f", {names['GM' + f['naam'][-7:-3]]} (" in f["naam"] for f in deck["layers"][0]["data"])  # its gemeente
    with demo_engine.connect() as conn:
        wijken = set(conn.execute(select(area.c.code).where(area.c.level == "wijk",
                                                            area.c.gemeente_code.in_(gemeenten))).scalars())
    assert mapped == wijken
    table = at.dataframe[0].value.set_index("Wijkcode")
    assert {code[2:6]: name for code, name in table["Gemeente"].items()} == {
        code[2:]: name for code, name in demo_names().items() if code in gemeenten}
    direct = _direct(demo_engine, "opstroom_pct")
    direct = direct[direct["gemeente_code"].isin(gemeenten) & (direct["period"] == "2016-2018")]
    assert set(table.index[table["Opmerking"] == ""]) == set(direct["subject"])
    withheld = table["Opmerking"].str.startswith("onderdrukt")
    assert set(table.index[table.iloc[:, 2] == "onderdrukt"]) == set(table.index[withheld]) != set()
    for row in direct.itertuples():
        assert table.loc[row.subject, "Opstroom in het vo 2016-2018 (%)"] == _nl(row.value, 1)


def test_kaart_difference_map_colours_only_wijken_with_both_periods(demo_engine):
    at = open_page("pages/kaart.py", vergelijk="2014-2016", scholen="1")
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    wijken = next(layer for layer in deck["layers"] if layer["id"] == "wijken")["data"]
    withheld = [f for f in wijken if "onderdrukt" in f["waarde"]]
    assert {f["naam"] for f in withheld} == {"Oosterkwartier (WK990103)", "Bedrijventerrein Zuid (WK990121)"}
    assert all("→" in f["waarde"] for f in wijken if f not in withheld)
    schools = next(layer for layer in deck["layers"] if layer["id"] == "scholen")["data"]
    assert len(schools) == 28


def test_afstroom_references_equal_a_direct_weighted_mean(demo_engine):
    at = open_page("pages/afstroom.py")
    direct = _direct(demo_engine, "afstroom_pct")
    after = direct[direct["period"] == "2016-2018"]
    here = after[after["gemeente_code"] == "GM9901"]
    expected_here = (here["value"] * here["n"]).sum() / here["n"].sum()
    expected_all = (after["value"] * after["n"]).sum() / after["n"].sum()
    line = next(m.value for m in at.markdown if "gemiddelde Veenhaven" in m.value)
    assert f"→ {_pct(expected_here)}" in line
    assert line.endswith(f"→ {_pct(expected_all)}")


def test_scholen_shows_every_school_year_with_both_figures_and_nothing_else(demo_engine):
    at = open_page("pages/scholen.py")
    apcg, toets = _direct(demo_engine, "apcg_pct"), _direct(demo_engine, "toetsadvies_gem")
    both = apcg[apcg["gemeente_code"] == "GM9901"].merge(toets, on=["subject", "period"])
    table = at.dataframe[0].value
    assert len(table) == len(both)
    assert set(zip(table["Vestiging"], table["Schooljaar"])) == set(zip(both["subject"], both["period"]))


def test_scholen_year_filter_and_highlight_come_from_the_link(demo_engine):
    at = open_page("pages/scholen.py", jaren="2017-2018,2018-2019", school="0BAE00")
    assert set(at.dataframe[-1].value["Schooljaar"]) == {"2017-2018", "2018-2019"}
    assert at.selectbox(key="filter_school").value == "0BAE00"
    assert at.query_params["school"] == "0BAE00"


def test_ouderopleiding_states_the_gap_a_direct_computation_gives(demo_engine):
    at = open_page("pages/ouderopleiding.py", "waldersum")
    direct = _direct(demo_engine, "havo_vwo_17_pct")
    latest = direct[(direct["gemeente_code"] == "GM9903") & (direct["period"] == "2018")].set_index("group")["value"]
    gap = latest["hoog"] - latest["laag"]
    text = next(m.value for m in at.markdown if ">In 2018 " in m.value)
    assert f"een verschil van {gap:.1f} procentpunt".replace(".", ",") in text
    assert "Waldersum" in text


@pytest.mark.parametrize("page", PAGES)
def test_link_to_another_gemeente_shows_none_of_it(demo_engine, downloads, page):
    at = open_page(page, gemeente="GM9902")
    assert not at.exception
    assert any("buiten uw bevoegdheid" in str(e.value) for e in at.error)
    # The peer group of the user's own gemeente names other gemeenten by design (public CBS
    # names, chosen on public CBS context); nothing else may.
    seen = PEER_SENTENCE.sub("", everything(at, downloads))
    assert "Dijkstede" not in seen and "WK9902" not in seen and "0C" + "AA00" not in seen
    assert at.query_params["gemeente"] == "GM9901"


@pytest.mark.parametrize("page", PAGES)
def test_session_state_set_to_another_gemeente_shows_none_of_it(demo_engine, downloads, page):
    at = open_page(page, session={"_value_gemeente": "GM9902", "_last_gemeente": "GM9902"})
    assert not at.exception
    seen = PEER_SENTENCE.sub("", everything(at, downloads))
    assert "Dijkstede" not in seen and "WK9902" not in seen
    assert at.query_params["gemeente"] == "GM9901"


def test_link_to_a_school_of_another_gemeente_names_nothing_of_it(demo_engine, downloads):
    with demo_engine.connect() as conn:
        other = conn.execute(select(school.c.id, school.c.name).where(school.c.gemeente_code == "GM9902")).first()
    at = open_page("pages/scholen.py", school=other.id)
    assert any("buiten uw bevoegdheid" in str(e.value) for e in at.error)
    assert other.name not in everything(at, downloads)


def test_a_csv_download_is_the_table_on_screen_and_is_audited(demo_engine, downloads):
    at = open_page("pages/kaart.py")
    shown = at.dataframe[0].value
    name, data = next((n, d) for n, d in downloads if n.endswith(".csv"))
    assert "synthetisch-demo" in name
    exported = pd.read_csv(io.BytesIO(data), sep=";", decimal=",", encoding="utf-8-sig")
    assert list(exported.columns) == [*shown.columns, "Bron"]
    assert set(exported["Bron"]) == {"synthetisch (demo)"}
    assert exported["Wijk"].tolist() == shown["Wijk"].tolist()
    assert exported.iloc[:, 2].tolist() == pytest.approx([dutch(v) for v in shown.iloc[:, 2]], nan_ok=True)
    with demo_engine.connect() as conn:
        audited = conn.execute(select(audit_log.c.username).where(audit_log.c.action == "export",
                                                                  audit_log.c.detail == name)).scalars().all()
    assert audited == ["veenhaven"]  # made on the click, for the logged-in user, and logged


def test_a_download_of_a_removed_account_yields_nothing(demo_engine, downloads):
    """A page left open after the account was removed: its buttons make no file."""
    from gka_dash.access import users
    open_page("pages/kaart.py")
    with demo_engine.begin() as conn:
        users.remove_user(conn, "veenhaven", by="test")
    with pytest.raises(PermissionError):
        list(downloads)


def test_a_wijk_in_the_link_is_chosen_outlined_on_the_map_and_marked_in_the_table(demo_engine):
    import json
    at = open_page("pages/kaart.py", wijk="WK990105")
    assert at.selectbox(key="filter_wijk").value == "WK990105"
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    outlined = next(layer for layer in deck["layers"] if layer["id"] == "gekozen")
    assert [f["code"] for f in outlined["data"]] == ["WK990105"]
    assert "fff1a8" in str(at.dataframe[0].proto.arrow_data)  # the marked row's style travels with the table
    plain = open_page("pages/kaart.py")
    assert [layer["id"] for layer in json.loads(plain.get("deck_gl_json_chart")[0].proto.json)["layers"]] == ["wijken"]


def test_a_wijk_chosen_on_afstroom_is_marked_in_the_dumbbell_the_map_and_the_table(demo_engine):
    import json
    at = open_page("pages/afstroom.py", wijk="WK990105")
    assert not at.exception
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert '"bold"' in json.dumps(spec) and "fff1a8" in json.dumps(spec)  # bold label on a marked row
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert [f["code"] for f in next(la for la in deck["layers"] if la["id"] == "gekozen")["data"]] == ["WK990105"]
    assert "fff1a8" in str(at.dataframe[0].proto.arrow_data)


def test_afstroom_opens_on_its_chart_and_draws_the_map_only_when_asked(demo_engine):
    """A new tab on Afstroom draws the chart; the map of the change (deck.gl, the page's
    slowest element to draw) waits behind its expander until it is opened."""
    at = open_page("pages/afstroom.py", session={AFSTROOM_MAP: False})
    assert not at.exception and at.get("vega_lite_chart") and not at.get("deck_gl_json_chart")
    assert [e.label for e in at.expander if e.label == "Kaart van de verandering"]
    at.session_state[AFSTROOM_MAP] = True
    at.run()
    assert at.get("deck_gl_json_chart") and any("binnen de marge" in m.value for m in [*at.markdown, *at.caption])


@pytest.mark.parametrize("page", ["pages/kaart.py", "pages/afstroom.py"])
def test_presenting_writes_the_wijk_names_on_the_map_where_they_fit(demo_engine, page):
    """For a room that cannot hover: in presentation mode the map carries the wijk names, each
    inside its own wijk; outside presentation mode there are none."""
    import shapely
    at = open_page(page, "grootzeestad", gemeente="GM9905", presentatie="1")
    layers = {layer["id"]: layer for layer in json.loads(at.get("deck_gl_json_chart")[0].proto.json)["layers"]}
    wijken = {f["naam"].rsplit(" (", 1)[0]: shapely.from_geojson(json.dumps(f["geometry"]))
              for f in layers["wijken"]["data"]}
    names = layers["namen"]
    assert 10 <= len(names["data"]) <= len(wijken)
    assert all(wijken[label["naam"].replace("\n", " ")].contains(shapely.Point(label["position"]))
               for label in names["data"])
    assert "sizeUnits" not in names  # with it Streamlit draws no text at all (streamlit#9488)
    assert names["characterSet"] == "auto" and not names["fontFamily"].startswith("@@")  # strings, not expressions
    plain = open_page(page, "grootzeestad", gemeente="GM9905")
    assert "namen" not in [layer["id"] for layer in json.loads(plain.get("deck_gl_json_chart")[0].proto.json)["layers"]]
