"""The core views on public data (issue #25): DUO's pupils by home postcode → % APCG per school,
DUO's Zittenblijven vo → doorstroom per school and gemeente, CBS kerncijfers of any year.

Every file is written in the publisher's layout (``tests/duo_layouts.py``, ``docs/bronnen.md``)
for Rotterdam's real schools, and every expected figure is counted here by hand from the cells
written, not by the importer's own functions."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from gka_dash import cli, queries
from gka_dash.importers.base import read_table
from gka_dash.importers.duo_postcodes import import_pupils_by_postcode, small_cell_chances
from gka_dash.importers.duo_doorstroom import import_doorstroom
from gka_dash.importers.duo_schools import import_schools
from gka_dash.importers.folder import plan
from gka_dash.importers.open_data import import_open_data
from gka_dash.importers.statline import import_kerncijfers
from gka_dash.schema import observation, pupil_postcode
from gka_dash.scope import Scope

from . import duo_layouts as layouts
from .conftest import raw

EVERYTHING = Scope.everything()
# Three of Rotterdam's real primary schools (alle-vestigingen-bo / vestigingen_bo_all_geocoded).
A, B, C = "03NB00", "05DG00", "05JC00"
# PC4s of the real APCG list: 3012 on both lists, 3045 only on L+A 2011-2012, 3084 only on L+A 2014,
# 3011 on neither.
BOTH, OLD_ONLY, NEW_ONLY, NEITHER = "3012", "3045", "3084", "3011"


@pytest.fixture
def rotterdam(engine):
    import_schools(engine, raw("duo_cbs_ginberg_cito/vestigingen_bo_all_geocoded.csv"))
    import_open_data(engine, raw("apcg/apcg_pc4_LA2014_LA2011-2012.csv"))
    return engine


def _apcg(engine, school: str) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(observation.c.period, observation.c.value, observation.c.n,
                                   observation.c.n_estimated, observation.c.imputation_var)
                            .where(observation.c.indicator_key == "apcg_pct", observation.c.subject == school)).all()
    return {r.period: tuple(r)[1:] for r in rows}


def _ages(total: int) -> dict[int, int]:
    """A cell's pupils spread over the ages of groep 1-8, as a real row is."""
    ages = {age: 0 for age in range(4, 13)}
    for i in range(total):
        ages[4 + i % 9] += 1
    return ages


def test_yearly_files_of_both_eras_give_the_share_of_pupils_from_an_apcg_with_the_list_of_their_year(rotterdam, tmp_path):
    files = [
        layouts.po_postcode_old(tmp_path / "03.-leerlingen-po-totaaloverzicht-2015-2016.csv", [
            {"school": A, "pc4": BOTH, "ages": _ages(10)},
            {"school": A, "pc4": OLD_ONLY, "ages": _ages(6)},
            {"school": A, "pc4": NEW_ONLY, "ages": _ages(2)},
            {"school": A, "pc4": NEITHER, "ages": _ages(12)},
            {"school": A, "pc4": "Buitenland", "ages": _ages(3)},  # no Dutch postcode: not in the share
            {"school": B, "pc4": BOTH, "ages": _ages(9), "vest": "0"},  # vestigingsnummer without its zero
            {"school": B, "pc4": NEITHER, "ages": _ages(27)},
        ]),
        # The per-gemeente files of 2012-2013: LEEFTIJD_n_JAAR and no TOTAAL; the L+A 2011-2012 list applies.
        layouts.po_postcode_old(tmp_path / "leerlingen-po-rotterdam-2012.csv", [
            {"school": A, "pc4": OLD_ONLY, "ages": _ages(6), "peildatum": "20121001"},
            {"school": A, "pc4": NEW_ONLY, "ages": _ages(2), "peildatum": "20121001"},
            {"school": A, "pc4": f'"{NEITHER}"', "ages": _ages(12), "peildatum": "20121001"},  # PC4 as quoted text
            {"school": A, "pc4": "3012.0", "ages": _ages(5), "peildatum": "20121001"},  # PC4 as a number from Excel
        ], era="LEEFTIJD"),
    ]
    for path in files:
        import_pupils_by_postcode(rotterdam, path)
    shares = _apcg(rotterdam, A)
    # 2015-2016, list L+A 2014 (3012, 3084): (10 + 2) of the 30 pupils with a Dutch postcode.
    assert shares["2015-2016"][:2] == (pytest.approx(12 / 30 * 100, abs=1e-3), 30)
    # 2012-2013, list L+A 2011-2012 (3012, 3045): (6 + 5) of 25.
    assert shares["2012-2013"][:2] == (pytest.approx(11 / 25 * 100, abs=1e-3), 25)
    assert shares["2015-2016"][2] is None  # nothing estimated in a file without '<5'
    assert _apcg(rotterdam, B)["2015-2016"][:2] == (pytest.approx(9 / 36 * 100, abs=1e-3), 36)
    # The school's own location is another matter: its building's PC4 (3181) is no APCG.
    assert queries.observations(rotterdam, EVERYTHING, "apcg_pct", gemeente="GM0599").rows["subject"].nunique() == 2


def test_masked_cells_of_2023_and_the_portal_file_are_estimated_within_their_bounds_and_widen_the_margin(rotterdam, tmp_path):
    import_pupils_by_postcode(rotterdam, layouts.po_postcode_old(
        tmp_path / "03.-leerlingen-po-totaaloverzicht-2018-2019.csv",  # unmasked small cells: how often 1, 2, 3, 4
        [{"school": B, "pc4": pc4, "ages": _ages(k), "peildatum": "20181001"}
         for pc4, k in (("3013", 1), ("3014", 1), ("3015", 2), ("3016", 3), ("3017", 4), ("3018", 40),
                        ("Buitenland", 4))]))  # pupils abroad are in no share, so not in how '<5' cells spread
    with rotterdam.connect() as conn:
        assert small_cell_chances(conn).tolist() == pytest.approx([0.4, 0.2, 0.2, 0.2])
    import_pupils_by_postcode(rotterdam, layouts.po_postcode_old(tmp_path / "03.-leerlingen-po-totaaloverzicht-2023-2024.csv", [
        {"school": A, "pc4": BOTH, "ages": {4: "<5"}, "total": "<5", "peildatum": "20231001"},
        {"school": A, "pc4": NEITHER, "ages": {5: 12, 6: "<5", 7: 8}, "total": 23, "peildatum": "20231001"},
    ], era="2023"))
    share, n, estimated, spread = _apcg(rotterdam, A)["2023-2024"]
    assert 1 / 24 * 100 <= share <= 4 / 27 * 100  # the APCG cell holds 1 to 4 of 24 to 27 pupils
    assert estimated == 2 and n in (24, 25) and spread > 0  # E[1-4 | seen 1,1,2,3,4] = 2,2
    # The portal's popostcode4: one file for every year, ',' and UTF-8, -1 or '<5' for 1-4.
    import_pupils_by_postcode(rotterdam, layouts.popostcode4(tmp_path / "brin6_pc4.csv", [
        ("05JC", "00", "BO", 2024, BOTH, 30), ("05JC", "05JC00", "BO", 2024, NEW_ONLY, -1),
        ("05JC", "00", "BO", 2024, NEITHER, "<5"), ("05JC", "00", "BO", 2024, NEITHER[:3] + "9", 66),
        ("05JC", "00", "BO", 2024, "0000", 4),  # no postcode
        ("05JC", "00", "SBO", 2024, BOTH, 50),  # speciaal basisonderwijs is compared nowhere
        ("05JC", "00", "BO", 2025, BOTH, 10), ("05JC", "00", "BO", 2025, NEITHER, 30),
    ]))
    c = _apcg(rotterdam, C)
    assert c["2025-2026"][:2] == (pytest.approx(25.0), 40)  # PEILJAAR 2025 is the school year 2025-2026
    low, high = (30 + 1) / (96 + 2) * 100, (30 + 4) / (96 + 5) * 100
    assert low <= c["2024-2025"][0] <= high and c["2024-2025"][2] is not None
    with rotterdam.connect() as conn:
        masked = conn.execute(select(pupil_postcode.c.pupils, pupil_postcode.c.masked_cells)
                              .where(pupil_postcode.c.school_id == C, pupil_postcode.c.pc4 == NEW_ONLY)).one()
    assert tuple(masked) == (0, 1)  # kept as DUO wrote it: a '<5', not a number


def test_an_apcg_list_loaded_after_the_pupils_is_matched_to_them(engine, tmp_path):
    import_schools(engine, raw("duo_cbs_ginberg_cito/vestigingen_bo_all_geocoded.csv"))
    report = import_pupils_by_postcode(engine, layouts.po_postcode_old(tmp_path / "po-2015.csv", [
        {"school": A, "pc4": BOTH, "ages": _ages(10)}, {"school": A, "pc4": NEITHER, "ages": _ages(30)}]))
    assert any("nog geen APCG-postcodelijst" in f for f in report.facts) and not _apcg(engine, A)
    import_open_data(engine, raw("apcg/apcg_pc4_LA2014_LA2011-2012.csv"))
    assert _apcg(engine, A)["2015-2016"][:2] == (pytest.approx(25.0), 40)


@pytest.mark.parametrize("cells, expected", [
    ([{"school": A, "pc4": BOTH, "ages": _ages(4), "peildatum": "1 oktober"}], ["PEILDATUM", "row 2", "'1 oktober'"]),
    ([{"school": A, "pc4": BOTH, "ages": {4: "drie"}}], ["L4", "row 2", "'drie' is not a number"]),
    ([{"school": A, "pc4": BOTH, "ages": _ages(4)}, {"school": A, "pc4": BOTH, "ages": _ages(2)}],
     ["row 3", "postcode 3012 occurs twice (also row 2)"]),
])
def test_a_broken_postcode_file_is_one_line_and_stores_nothing(rotterdam, tmp_path, cells, expected, capsys):
    path = layouts.po_postcode_old(tmp_path / "po.csv", cells)
    assert cli.main(["import-pupils-postcode", str(path)]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and all(part in line for part in ["po.csv", *expected]), line
    with rotterdam.connect() as conn:
        assert conn.execute(select(pupil_postcode.c.id)).first() is None


def test_vo_doorstroom_per_school_per_gemeente_and_estimated_by_residence(engine, tmp_path):
    import_schools(engine, raw("duo_cbs_ginberg_cito/vestigingen_vo_all_geocoded.csv"))
    # Two of Rotterdam's real vo schools; the years are in the name DUO gives the file.
    path = layouts.doorstroom(tmp_path / "05.-zittenblijvers-niveau-vestiging-2023-2024-tov-2024-2025.csv", [
        ("04IK", "00", "Accent Praktijkonderwijs Centrum", "ROTTERDAM", 200, 10, 6, 20),
        ("14QT", "0", "Marnix Gymnasium", "ROTTERDAM", 600, 30, "<5", 60),
    ])
    import_doorstroom(engine, path)
    rows = queries.observations(engine, EVERYTHING, "vo_afstroom_pct", gemeente="GM0599").rows.set_index("subject")
    assert rows.loc["04IK00", "value"] == pytest.approx(10.0) and rows.loc["04IK00", "n"] == 200
    assert rows.loc["14QT00", "period"] == "2023-2024"
    gemeente = queries.observations(engine, EVERYTHING, "vo_afstroom_gemeente_pct", gemeente="GM0599").rows
    assert gemeente["value"].iloc[0] == pytest.approx(80 / 800 * 100)
    up = queries.observations(engine, EVERYTHING, "vo_opstroom_pct", gemeente="GM0599").rows.set_index("subject")
    assert 1 / 600 * 100 <= up.loc["14QT00", "value"] <= 4 / 600 * 100 and up.loc["14QT00", "n_estimated"]
    assert pd.isna(rows.loc["14QT00", "n_estimated"])  # its afstroom has no '<5' cell: exact, not estimated
    assert rows.loc["14QT00", "value"] == pytest.approx(10.0)
    # Pupils by home gemeente: 150 of Accent's from Rotterdam, 50 from Schiedam; 100 of Marnix's from Schiedam.
    import_pupils_by_postcode(engine, layouts.vo_postcode(
        tmp_path / "02.-leerlingen-per-vestiging-naar-postcode-en-leerjaar-2023.csv", [
            ("04IK", "00", "3011", "ROTTERDAM", "ROTTERDAM", "0599", [30, 30, 30, 30, 30, 0]),
            ("04IK", "00", "3111", "SCHIEDAM", "SCHIEDAM", "0606", [10, 10, 10, 10, 10, 0]),
            ("14QT", "00", "3112", "SCHIEDAM", "SCHIEDAM", "0606", [20, 20, 20, 20, 20, "<5"]),
        ]))
    schiedam = queries.observations(engine, EVERYTHING, "vo_afstroom_woon_pct", gemeente="GM0606").rows
    # (50 × 10 % + 102,5 × 10 %) / 152,5: both schools lose 10 % downwards.
    assert schiedam["value"].iloc[0] == pytest.approx(10.0) and 151 <= schiedam["n"].iloc[0] <= 154
    assert schiedam["n_estimated"].iloc[0] > 0  # its '<5' cell is in the margin, as the import says
    rotterdam_woon = queries.observations(engine, EVERYTHING, "vo_afstroom_woon_pct", gemeente="GM0599").rows
    assert rotterdam_woon["value"].iloc[0] == pytest.approx(10.0) and rotterdam_woon["n"].iloc[0] == 150
    assert pd.isna(rotterdam_woon["n_estimated"].iloc[0])


def test_afstroom_page_without_the_wijk_table_shows_the_vo_schools_and_labels_the_estimate(engine, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from gka_dash.access import users
    from gka_dash.importers.cbs_areas import import_areas
    from .test_views import APP
    import_areas(engine, raw("tnocs_vr/gemeente.geojson"), level="gemeente", year=2015)  # the gemeente's name
    import_schools(engine, raw("duo_cbs_ginberg_cito/vestigingen_vo_all_geocoded.csv"))
    import_doorstroom(engine, layouts.doorstroom(tmp_path / "05.-zittenblijvers-niveau-vestiging-2023-2024-tov-2024-2025.csv", [
        ("04IK", "00", "Accent Praktijkonderwijs Centrum", "ROTTERDAM", 200, 10, 6, 20),
        ("14QT", "00", "Marnix Gymnasium", "ROTTERDAM", 600, 30, 12, 60)]))
    import_pupils_by_postcode(engine, layouts.vo_postcode(
        tmp_path / "02.-leerlingen-per-vestiging-naar-postcode-en-leerjaar-2023.csv",
        [("14QT", "00", "3011", "ROTTERDAM", "ROTTERDAM", "0599", [20, 20, 20, 20, 20, 20])]))
    with engine.begin() as conn:
        users.add_user(conn, "rotterdam", role="gemeente", gemeenten=["GM0599"], password="vo-openbare-data")
    monkeypatch.setenv("GKA_COOKIE_KEY", "een-eigen-sleutel-van-minstens-32-tekens-lang")
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.text_input[0].input("rotterdam")
    at.text_input[1].input("vo-openbare-data")
    at.button[0].click()
    at.run()
    at.switch_page("pages/afstroom.py")
    at.run()
    assert not at.exception
    assert [h.value for h in at.header] == ["Op- en afstroom op de vo-scholen van Rotterdam"]
    text = " ".join(m.value for m in at.markdown).replace("\\", "")  # ui.plain escapes Markdown
    # 80 of the 800 pupils of Rotterdam's two schools; Marnix's 120 Rotterdam pupils at its 10 %.
    assert "Afstroom op vo-scholen in de gemeente, 2023-2024 → 2024-2025: 10,0 %" in text, text
    assert "Afstroom van vo-leerlingen uit de gemeente (schatting), 2023-2024 → 2024-2025: 10,0 %" in text
    assert any("Een schatting" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert table["School"].tolist() == ["Accent Praktijkonderwijs Centrum", "Marnix Gymnasium"]
    at.switch_page("pages/overzicht.py")
    at.run()
    labels = [m.label for m in at.metric]
    assert "Afstroom van vo-leerlingen uit de gemeente (schatting)" in labels
    assert "Afstroom op vo-scholen in de gemeente" in labels


# The keys of two years' tables as cbsodata returns them: the same measure under another suffix.
KEYS_2017 = {"AantalInwoners": 5, "k_0Tot15Jaar": 8, "GemiddeldInkomenPerInwoner": 66,
             "HuishoudensMetEenLaagInkomen": 72, "HuishOnderOfRondSociaalMinimum": 73,
             "PersonenPerSoortUitkeringBijstand": 79}
KEYS_2024 = {"AantalInwoners": 5, "k_0Tot15Jaar": 8, "GemiddeldInkomenPerInwoner": 83,
             "HuishoudensMetEenLaagInkomen": 87, "PersonenPerSoortUitkeringBijstand": 96}
REGIONS = [
    {"name": "Rotterdam", "gemeente": "Rotterdam", "kind": "Gemeente", "code": "GM0599", "AantalInwoners": 638712,
     "k_0Tot15Jaar": 102000, "GemiddeldInkomenPerInwoner": "24.9", "HuishoudensMetEenLaagInkomen": "15.0",
     "HuishOnderOfRondSociaalMinimum": "13.1", "PersonenPerSoortUitkeringBijstand": 38690},
    {"name": "Stadsdriehoek", "gemeente": "Rotterdam", "kind": "Wijk", "code": "WK059901", "AantalInwoners": 15400,
     "k_0Tot15Jaar": 1250, "GemiddeldInkomenPerInwoner": "37.2", "HuishoudensMetEenLaagInkomen": None,
     "HuishOnderOfRondSociaalMinimum": "8.3", "PersonenPerSoortUitkeringBijstand": 520},
    {"name": "Nederland", "gemeente": "", "kind": "Land", "code": "NL01", "AantalInwoners": 17000000},
]


def test_kerncijfers_of_two_years_are_matched_by_their_names_not_their_numbers(engine, tmp_path, monkeypatch):
    import cbsodata
    monkeypatch.setattr(cbsodata, "get_data", lambda table_id, **kw: layouts.statline_rows(KEYS_2017, REGIONS))
    import_kerncijfers(engine, "83765NED")  # through cbsodata, as with internet
    later = [{**r, "GemiddeldInkomenPerInwoner": "41.0" if r["code"] == "WK059901" else r.get("GemiddeldInkomenPerInwoner")}
             for r in REGIONS]
    report = import_kerncijfers(engine, layouts.statline_json(tmp_path / "85984NED.json",
                                                              layouts.statline_rows(KEYS_2024, later)))
    assert any("pct_hh_sociaal_minimum" in w for w in report.warnings)  # not in the 2024 table
    income = queries.observations(engine, EVERYTHING, "inkomen_per_inwoner", gemeente="GM0599").rows
    wijk = income[income["subject"] == "WK059901"].set_index("period")["value"]
    assert wijk.to_dict() == {"2017": pytest.approx(37.2), "2024": pytest.approx(41.0)}
    young = queries.observations(engine, EVERYTHING, "pct_0_14_jr", gemeente="GM0599").rows
    assert young.set_index(["subject", "period"]).loc[("WK059901", "2017"), "value"] == pytest.approx(1250 / 15400 * 100, abs=1e-3)
    low = queries.observations(engine, EVERYTHING, "pct_hh_laag_inkomen", gemeente="GM0599").rows
    assert ("WK059901", "2017") not in set(zip(low["subject"], low["period"]))  # CBS: ".", nothing stored
    assert "NL01" not in set(income["subject"])


def test_a_missing_statline_cell_leaves_another_sources_figure_and_a_contradicting_year_is_refused(engine, tmp_path,
                                                                                                  capsys):
    """A '.' means "not in this table": the figure of that year from a file read earlier stays
    (it was overwritten with nothing); --year against the table's own year would file its figures
    under another year's, and is refused."""
    first = [{**r, "HuishoudensMetEenLaagInkomen": "11.0"} if r["code"] == "WK059901" else r for r in REGIONS]
    import_kerncijfers(engine, layouts.statline_json(tmp_path / "83765NED-eerste.json",
                                                     layouts.statline_rows(KEYS_2017, first)))
    import_kerncijfers(engine, layouts.statline_json(tmp_path / "83765NED.json", layouts.statline_rows(KEYS_2017, REGIONS)))
    low = queries.observations(engine, EVERYTHING, "pct_hh_laag_inkomen", gemeente="GM0599").rows
    assert low.set_index(["subject", "period"]).loc[("WK059901", "2017"), "value"] == pytest.approx(11.0)
    path = layouts.statline_json(tmp_path / "83765NED-jaar.json", layouts.statline_rows(KEYS_2017, REGIONS))
    _one_line(capsys, ["import-kerncijfers", str(path), "--year", "2015"], "table of 2017 (83765NED)",
              "--year 2015 contradicts it")


def test_a_statline_csv_export_is_read_by_its_titles_with_the_dutch_decimal_comma(engine, tmp_path):
    """StatLine's own CSV download: titles with their unit as column names, ';', decimal comma."""
    path = tmp_path / "Kerncijfers_wijken_en_buurten_2024_85984NED.csv"
    path.write_text('"Wijken en buurten";"Gemeentenaam";"Soort regio";"Codering";"Aantal inwoners (aantal)";'
                    '"Gemiddeld inkomen per inwoner (x 1 000 euro)";"Huishoudens met een laag inkomen (%)"\n'
                    '"Stadsdriehoek";"Rotterdam";"Wijk";"WK059901  ";"15400";"37,2";"."\n'
                    '"Nederland";"";"Land";"NL01";"17942942";"32,1";"8,1"\n', encoding="utf-8")
    import_kerncijfers(engine, path)
    income = queries.observations(engine, EVERYTHING, "inkomen_per_inwoner", gemeente="GM0599").rows
    assert income[["subject", "period", "value"]].values.tolist() == [["WK059901", "2024", pytest.approx(37.2)]]


def test_import_folder_recognises_the_new_files_and_orders_them_after_what_they_need(tmp_path):
    layouts.po_postcode_old(tmp_path / "03.-leerlingen-po-totaaloverzicht-2015-2016.csv",
                            [{"school": A, "pc4": BOTH, "ages": _ages(4)}])
    layouts.popostcode4(tmp_path / "brin6_pc4.csv", [("03NB", "00", "BO", 2024, BOTH, 9)])
    layouts.doorstroom(tmp_path / "05.-zittenblijvers-niveau-vestiging-2023-2024-tov-2024-2025.csv",
                       [("14QT", "00", "Marnix Gymnasium", "ROTTERDAM", 600, 30, 3, 60)])
    layouts.statline_json(tmp_path / "85984NED.json", layouts.statline_rows(KEYS_2024, REGIONS))
    (tmp_path / "apcg.csv").write_text("pc4,apcg_2014\n3012,1\n", encoding="utf-8")
    (tmp_path / "vestigingen.csv").write_bytes(raw("duo_cbs_ginberg_cito/alle-vestigingen-bo.csv").read_bytes()[:4000].rsplit(b"\n", 1)[0])
    import geopandas as gpd
    from shapely.geometry import box
    layers = tmp_path / "wijkenbuurten_2024_v1.gpkg"  # one GeoPackage, a layer per level, long names
    gpd.GeoDataFrame({"gemeentecode": ["GM0599"], "gemeentenaam": ["Rotterdam"]}, geometry=[box(4.4, 51.9, 4.5, 52.0)],
                     crs="EPSG:4326").to_file(layers, layer="gemeenten")
    gpd.GeoDataFrame({"wijkcode": ["WK059901"], "wijknaam": ["Stadsdriehoek"], "gemeentecode": ["GM0599"]},
                     geometry=[box(4.47, 51.91, 4.49, 51.93)], crs="EPSG:4326").to_file(layers, layer="wijken")
    planned, skipped = plan(tmp_path)
    order = [p.path.name for p in planned]
    assert [p.what for p in planned[:2]] == ["CBS gemeente 2024", "CBS wijk 2024"]
    assert order.index("85984NED.json") < order.index("vestigingen.csv") < order.index("apcg.csv") \
        < order.index("brin6_pc4.csv") and not skipped, (order, skipped)
    assert {p.what for p in planned} >= {"leerlingen naar postcode (DUO)", "doorstroom vo (DUO)",
                                         "CBS kerncijfers wijken en buurten"}
    assert read_table(tmp_path / "brin6_pc4.csv", allow_latin1=True).columns == layouts.POPOSTCODE4_HEAD


def test_the_same_pupils_from_two_files_are_counted_once(rotterdam, tmp_path):
    """A yearly file and the portal's popostcode4 hold the same school year: the newest read wins,
    never both (which would double n and halve the margin)."""
    cells = [{"school": A, "pc4": BOTH, "ages": _ages(10)}, {"school": A, "pc4": NEITHER, "ages": _ages(30)}]
    import_pupils_by_postcode(rotterdam, layouts.po_postcode_old(tmp_path / "03-2015.csv", cells))
    import_pupils_by_postcode(rotterdam, layouts.po_postcode_old(tmp_path / "kopie van 03-2015.csv", cells))
    assert _apcg(rotterdam, A)["2015-2016"][:2] == (pytest.approx(25.0), 40)
    import_pupils_by_postcode(rotterdam, layouts.popostcode4(tmp_path / "brin6_pc4.csv", [
        ("03NB", "00", "BO", 2015, BOTH, 12), ("03NB", "00", "BO", 2015, NEITHER, 36)]))
    assert _apcg(rotterdam, A)["2015-2016"][:2] == (pytest.approx(25.0), 48)


def _one_line(capsys, argv, *parts):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and all(p in err for p in parts), err
    return err


def test_hostile_statline_files_are_one_line_and_store_nothing(engine, tmp_path, capsys):
    def region(**values):
        return [{**REGIONS[1], **values}]
    cases = {
        "fullwidth.json": (region(AantalInwoners="１０００"), ["'１０００' is not a number"]),
        "arabic.json": (region(AantalInwoners="١٠٠٠"), ["is not a number"]),
        "underscore.json": (region(AantalInwoners="1_000"), ["is not a number"]),
        "negative.json": (region(AantalInwoners=-1000), ["not a number of inhabitants"]),
        "share.json": (region(k_0Tot15Jaar=50000), ["is outside 0 to 100"]),
        "twice.json": (region() + region(), ["WK059901 occurs twice"]),
    }
    for name, (regions, expected) in cases.items():
        path = layouts.statline_json(tmp_path / name, layouts.statline_rows(KEYS_2017, regions))
        _one_line(capsys, ["import-kerncijfers", str(path), "--year", "2017"], name, *expected)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    _one_line(capsys, ["import-kerncijfers", str(deep), "--year", "2017"], "nested too deeply")
    good = layouts.statline_json(tmp_path / "good.json", layouts.statline_rows(KEYS_2017, REGIONS))
    _one_line(capsys, ["import-kerncijfers", str(good), "--year", "99999"], "is not a year")
    with engine.connect() as conn:
        assert conn.execute(select(observation.c.id)).first() is None


def test_doorstroom_keeps_masked_rows_consistent_and_refuses_what_cannot_be(engine, tmp_path, capsys):
    import_schools(engine, raw("duo_cbs_ginberg_cito/vestigingen_vo_all_geocoded.csv"))
    name = "05.-zittenblijvers-niveau-vestiging-2023-2024-tov-2024-2025.csv"
    # A tiny vestiging where everything is '<5': moves never exceed the pupils drawn for it.
    import_doorstroom(engine, layouts.doorstroom(tmp_path / name, [
        ("04IK", "00", "Accent", "ROTTERDAM", "<5", "<5", "<5", "<5"),
        ("14QT", "00", "Marnix", "ROTTERDAM", 3, 0, 0, "<5")]))
    with engine.connect() as conn:  # fewer than 10 pupils: stored, and withheld from every view
        shares = conn.execute(select(observation.c.value).where(observation.c.indicator_key.like("vo_%_pct"),
                                                                observation.c.subject.in_(["04IK00", "14QT00"]))).scalars().all()
    assert len(shares) == 6 and all(0 <= v <= 100 for v in shares)
    assert len(queries.observations(engine, EVERYTHING, "vo_afstroom_pct", gemeente="GM0599").withheld) == 2
    bad = layouts.doorstroom(tmp_path / ("x-" + name), [("14QT", "00", "Marnix", "ROTTERDAM", 100, 90, 90, 90)])
    _one_line(capsys, ["import-doorstroom", str(bad)], "row 2", "together (270) are more than AANTAL_LEERLINGEN (100)")
    # A '<5' total holds at most 4 pupils: five afstromers cannot come from it.
    bad = layouts.doorstroom(tmp_path / ("y-" + name), [("14QT", "00", "Marnix", "ROTTERDAM", "<5", 0, 0, 5)])
    _one_line(capsys, ["import-doorstroom", str(bad)], "row 2", "together (5) are more than AANTAL_LEERLINGEN (<5)")
    _one_line(capsys, ["import-doorstroom", str(bad), "--period", "2016-2014"], "--period")
    # A second file for the same years replaces the first whole: the gemeente figure is that of its schools.
    import_doorstroom(engine, layouts.doorstroom(tmp_path / ("ander-" + name), [
        ("14QT", "00", "Marnix", "ROTTERDAM", 600, 30, 12, 60)]))
    rows = queries.observations(engine, EVERYTHING, "vo_afstroom_pct", gemeente="GM0599").rows
    assert rows["subject"].tolist() == ["14QT00"]
    gemeente = queries.observations(engine, EVERYTHING, "vo_afstroom_gemeente_pct", gemeente="GM0599").rows
    assert gemeente["n"].tolist() == [600]


def test_text_from_a_file_stays_on_one_inert_line(rotterdam, tmp_path, capsys):
    path = layouts.po_postcode_old(tmp_path / "po.csv", [{"school": A, "pc4": BOTH, "ages": {4: '"1\nfout: alles goed\x1b[2J"'}}])
    err = _one_line(capsys, ["import-pupils-postcode", str(path)], "po.csv", "column L4")
    assert "\x1b" not in err and "\\x0a" in err
