"""Gespreksvoorbereiding: highlights against a direct computation on the demo, notes kept per
gemeente and scope, presentation mode, and the report (HTML and PDF) with suppression intact."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from statsmodels.stats import proportion
from statsmodels.stats.multitest import multipletests

from gka_dash import analysis, formatting, gesprek, queries, ui
from gka_dash.exports import report
from gka_dash.gesprek import notes
from gka_dash.errors import ScopeError
from gka_dash.schema import audit_log, note, school
from gka_dash.scope import Scope

from .conftest import PLANTED
from .test_views import APP, _direct, everything, leaks, open_page

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VEENHAVEN = Scope.of("GM9901")


def _nl(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


def test_afstroom_highlights_are_the_changes_a_direct_score_test_keeps_after_benjamini_hochberg(demo_engine):
    """Recomputed from the stored rows with statsmodels: the score test per wijk, Benjamini-
    Hochberg over all wijken of the gemeente, the strongest evidence first (rises, then falls)."""
    direct = _direct(demo_engine, "afstroom_pct")
    here = direct[(direct["gemeente_code"] == "GM9901") & (direct["subject"].str.startswith("WK"))]
    both = here[here["period"] == "2014-2016"].merge(here[here["period"] == "2016-2018"], on="subject")
    tests = [proportion.test_proportions_2indep(a / 100 * na, na, b / 100 * nb, nb, compare="diff", method="score")
             for a, na, b, nb in zip(both["value_y"], both["n_y"], both["value_x"], both["n_x"])]
    both["p"] = [t.pvalue for t in tests]
    both["real"] = multipletests(both["p"], alpha=0.05, method="fdr_bh")[0]
    both["change"] = both["value_y"] - both["value_x"]
    real = both[both["real"]].sort_values("p")
    names = dict(zip(queries.areas(demo_engine, VEENHAVEN, "GM9901")["code"],
                     queries.areas(demo_engine, VEENHAVEN, "GM9901")["name"]))
    expected = ([f"Afstroom gestegen in {names[c]}" for c in real.loc[real["change"] > 0, "subject"]][:3]
                + [f"Afstroom gedaald in {names[c]}" for c in real.loc[real["change"] < 0, "subject"]][:2])

    found, rising, notes = gesprek.afstroom_changes(demo_engine, VEENHAVEN, "GM9901")
    assert [h.title for h in found] == expected
    assert rising == list(real.loc[real["change"] > 0, "subject"][:3])
    assert bool(notes) == (not expected)


def test_school_highlights_lie_beyond_the_funnel_and_link_to_their_school(demo_engine):
    found, notes = gesprek.school_extremes(demo_engine, VEENHAVEN, "GM9901")
    pairs = analysis.school_pairs(demo_engine, VEENHAVEN, "GM9901", "apcg_pct", "toetsadvies_gem").frame
    latest = pairs[pairs["period"] == "2018-2019"].set_index("id")
    assert found or notes
    for h in found:
        school_id = h.params["school"]
        row = latest.loc[school_id]
        side = 1 if h.title.endswith("hoger dan verwacht") else -1
        assert row["residual"] * side > row["limit95"]
        assert h.figure == formatting.with_margin(row["residual"], row["limit95"], "advies")
        assert h.link == (f"scholen?gemeente=GM9901&indicator=toetsadvies_gem&x=apcg_pct&jaren=2018-2019"
                          f"&school={school_id}")


def test_gap_highlight_compares_with_all_gemeenten_as_computed_directly(demo_engine):
    direct = _direct(demo_engine, "havo_vwo_17_pct")
    year = direct[direct["period"] == "2018"]
    here = year[year["gemeente_code"] == "GM9903"].set_index("group")["value"]
    weighted = year.assign(w=year["value"] * year["n"]).groupby("group")[["w", "n"]].sum()
    everywhere = weighted["w"] / weighted["n"]
    found = gesprek.ouderopleiding_gap(demo_engine, Scope.everything(), "GM9903", "Waldersum")
    n = year[year["gemeente_code"] == "GM9903"].set_index("group")["n"]
    low, high = proportion.confint_proportions_2indep(here["hoog"] / 100 * n["hoog"], n["hoog"], here["laag"] / 100 * n["laag"],
                                           n["laag"], compare="diff", method="score")
    assert found[0].figure == (f"+{_nl(here['hoog'] - here['laag'], 1)} procentpunt (marge ±{_nl((high - low) * 50, 1)}) "
                               f"(alle gemeenten: +{_nl(everywhere['hoog'] - everywhere['laag'], 1)})")
    # Waldersum's own user: outside its scope the 2018 'laag' cells are Grootzeestad's for 90 %,
    # so the reference would all but name Grootzeestad: withheld (disclosure rule).
    own = gesprek.ouderopleiding_gap(demo_engine, Scope.of("GM9903"), "GM9903", "Waldersum")
    assert own[0].figure == f"+{_nl(here['hoog'] - here['laag'], 1)} procentpunt (marge ±{_nl((high - low) * 50, 1)})"


def test_every_highlight_links_to_a_page_that_opens_on_its_filters(demo_engine):
    found = gesprek.highlights(demo_engine, VEENHAVEN, "GM9901", "Veenhaven")
    # Afstroom links are opened in test_honest_numbers, where a real change is planted.
    assert {h.page for h in found.items} >= {"scholen", "ouderopleiding", "kaart"}
    for h in found.items:
        at = open_page(f"pages/{h.page}.py", **h.params)
        assert not at.exception and not at.error
        for param, value in h.params.items():
            assert at.query_params[param] == value, (h.page, param)


def _notes(at) -> list:
    """The four questions' text areas (the afspraak forms under the highlights have their own)."""
    return [t for t in at.text_area if t.label == "Notitie"]


def _save_note(at, question: int, text: str):
    _notes(at)[question - 1].input(text)
    [b for b in at.button if b.label == "Opslaan"][question - 1].click()
    return at.run()


def test_notes_are_saved_with_history_and_shown_only_within_scope(demo_engine, downloads):
    at = open_page("pages/gesprek.py", "veenhaven")
    at = _save_note(at, 1, "Afstroom stijgt in Kanaalzone; navragen bij de vo-scholen.")
    at = _save_note(at, 1, "Afstroom stijgt in Kanaalzone en Zuiderveld.")
    at = _save_note(at, 3, "Huiswerkbegeleiding in de wijk uitbreiden.")
    assert not at.exception
    with demo_engine.connect() as conn:
        stored = conn.execute(select(note.c.question, note.c.text, note.c.author).where(
            note.c.gemeente_code == "GM9901").order_by(note.c.id)).all()
        audited = conn.execute(select(func.count()).select_from(audit_log).where(audit_log.c.action == "note")).scalar()
    assert [tuple(r) for r in stored] == [
        (1, "Afstroom stijgt in Kanaalzone; navragen bij de vo-scholen.", "veenhaven"),
        (1, "Afstroom stijgt in Kanaalzone en Zuiderveld.", "veenhaven"),
        (3, "Huiswerkbegeleiding in de wijk uitbreiden.", "veenhaven")]
    assert audited == 3

    regio = open_page("pages/gesprek.py", "regio", gemeente="GM9901")
    assert _notes(regio)[0].value == "Afstroom stijgt in Kanaalzone en Zuiderveld."
    assert any("Eerdere versies (2)" in e.label for e in regio.expander)
    history = next(df.value for df in regio.dataframe if "Vraag" in df.value.columns)
    assert list(history["Tekst"]) == ["Afstroom stijgt in Kanaalzone en Zuiderveld.",
                                      "Afstroom stijgt in Kanaalzone; navragen bij de vo-scholen."]

    downloads.clear()
    other = open_page("pages/gesprek.py", "waldersum", gemeente="GM9901")
    seen = everything(other, downloads)
    assert any("buiten uw bevoegdheid" in str(e.value) for e in other.error)
    assert "Kanaalzone" not in seen and "Huiswerkbegeleiding" not in seen
    assert all("Kanaalzone" not in t.value for t in other.text_area)
    with pytest.raises(ScopeError):
        notes.history(demo_engine, Scope.of("GM9903"), "GM9901")
    with pytest.raises(ScopeError):
        notes.save(demo_engine, Scope.of("GM9903"), "GM9901", 2, "poging", "waldersum")


def _app_logged_in(username: str, engine, **params):
    """app.py itself, for one run with a logged-in session (AppTest runs app.py only on its
    first run; after a login it reruns the page file alone): a real server-side session, as a
    login opens one; state that merely claims a login opens nothing."""
    from datetime import timedelta

    from streamlit.testing.v1 import AppTest

    from gka_dash.access import sessions
    at = AppTest.from_file(APP, default_timeout=60)
    with engine.begin() as conn:
        at.session_state["_session_token"] = sessions.create(conn, username, timedelta(hours=1))
    at.query_params.update(params)
    return at.run()


@pytest.mark.parametrize("presenting", [False, True])
def test_presentation_mode_hides_sidebar_user_and_admin(demo_engine, presenting):
    at = _app_logged_in("beheer", demo_engine, **({"presentatie": "1"} if presenting else {}))
    assert not at.exception
    sidebar = " ".join(str(getattr(e, "value", "")) + str(getattr(e, "label", "")) for e in at.sidebar)
    assert ("Demo beheerder" in sidebar) != presenting  # the control: the name is there normally
    assert ("Uitloggen" in [b.label for b in at.sidebar.button]) != presenting
    if presenting:  # the way out is a button behind "Weergave", not a switch the room sees
        assert [b.label for b in at.button if b.label == "Presentatiemodus uit"]
        assert len(at.sidebar) == 0
        assert at.toggle(key="filter_pseudoniemen").value is True
        assert "Demo beheerder" not in everything(at)
    else:
        assert at.toggle(key="filter_presentatie").value is False


def test_presentation_mode_replaces_school_names_and_drops_downloads(demo_engine, downloads):
    with demo_engine.connect() as conn:
        names = conn.execute(select(school.c.name, school.c.id).where(school.c.gemeente_code == "GM9901")).all()
    for page in ("pages/scholen.py", "pages/gesprek.py", "pages/kaart.py"):
        shown = open_page(page, "veenhaven", presentatie="1", scholen="1")
        seen = everything(shown, downloads)
        assert not shown.exception
        assert re.search(r"School [A-Z]{1,2}\b", seen), page
        assert not [n for n, i in names if n in seen or i in seen], page
        assert not shown.get("download_button"), page
        assert "veenhaven" not in seen.replace("Veenhaven", ""), page  # no user name, no note author
    refused = open_page("pages/beheer.py", "beheer", presentatie="1")
    assert any("presentatiemodus" in str(i.value) for i in refused.info)
    assert not refused.get("tabs")


def test_presentation_mode_shows_notes_without_their_author(demo_engine):
    notes.save(demo_engine, VEENHAVEN, "GM9901", 2, "Schoolpopulaties veranderen snel.", "veenhaven")
    at = open_page("pages/gesprek.py", "regio", gemeente="GM9901", presentatie="1")
    assert any(m.value == ui.plain("Schoolpopulaties veranderen snel.") for m in at.markdown)
    assert not at.text_area and not any("gewijzigd door" in c.value for c in at.caption)


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "rapport.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_report_holds_highlights_notes_sources_and_the_synthetic_label(demo_engine, tmp_path):
    notes.save(demo_engine, VEENHAVEN, "GM9901", 4, "Wijkteam, vo-scholen en de leerplichtambtenaar.", "veenhaven")
    made = report.build(demo_engine, VEENHAVEN, "GM9901", "Veenhaven", views=list(report.VIEWS), author="Demo")
    page = report.to_html(made)
    for h in made.highlights.items:
        assert h.title in page and h.figure in page
    assert "Wijkteam, vo-scholen en de leerplichtambtenaar." in page
    assert page.count("<svg") == len(report.VIEWS)
    assert page.count(report.SYNTHETIC_LABEL) == 2
    assert "CBS/DUO maatwerktabel" in page and "2014-2016, 2016-2018" in page
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)

    text = _pdf_text(report.to_pdf(made), tmp_path)
    flat = " ".join(text.split())
    assert "Synthetisch (demo)" in flat and "Wie hebben we daarvoor nodig?" in flat
    assert "Wijkteam, vo-scholen en de leerplichtambtenaar." in flat
    assert made.highlights.items[0].figure in flat


@pytest.mark.parametrize("threshold, shown", [("10", False), ("5", True)])
def test_planted_small_cells_stay_out_of_the_page_and_the_report(demo_engine, downloads, monkeypatch, tmp_path,
                                                                 threshold, shown):
    """At the default threshold no planted n=7 cell surfaces; at 5 the same checks find them."""
    monkeypatch.setenv("GKA_SUPPRESSION_THRESHOLD", threshold)
    at = open_page("pages/gesprek.py")
    made = report.build(demo_engine, VEENHAVEN, "GM9901", "Veenhaven", views=list(report.VIEWS), author="Demo")
    seen = "\n".join([everything(at, downloads), report.to_html(made), _pdf_text(report.to_pdf(made), tmp_path)])
    for _, _, _, _, value, decimals, _ in PLANTED:
        assert bool(leaks(value, decimals, seen)) == shown, value


def test_report_with_pseudonyms_names_no_school(demo_engine):
    with demo_engine.connect() as conn:
        names = conn.execute(select(school.c.name, school.c.id).where(school.c.gemeente_code == "GM9901")).all()
    made = report.build(demo_engine, VEENHAVEN, "GM9901", "Veenhaven", views=["scholen"], author="Demo",
                        pseudonyms=True)
    page = report.to_html(made)
    assert "School A" in page
    assert not [n for n, i in names if n in page or i in page]


def test_report_pdf_pages_render(demo_engine, tmp_path):
    """The PDF as PNG pages (pdftoppm), kept in tests/artifacts to be looked at."""
    ARTIFACTS.mkdir(exist_ok=True)
    made = report.build(demo_engine, VEENHAVEN, "GM9901", "Veenhaven", views=list(report.VIEWS), author="Demo")
    path = tmp_path / "rapport.pdf"
    path.write_bytes(report.to_pdf(made))
    for old in ARTIFACTS.glob("rapport-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(ARTIFACTS / "rapport")], check=True)
    pages = sorted(ARTIFACTS.glob("rapport-*.png"))
    assert len(pages) >= 1 + len(report.VIEWS)
