"""From "what stands out" to an agreement (issue #27): the catalogue of approaches (imported,
validated, matched to highlights), partners and agreements under scope, and the follow-up of an
agreement's indicator with its margin, on planted data computed by hand here."""

from datetime import date

import pytest
from sqlalchemy import func, select

from gka_dash.exports import report, slides
from gka_dash.errors import GkaError, InputError, ScopeError
from gka_dash.gesprek import agreements, approaches
from gka_dash.importers.base import observation_row, start_dataset, write_observations
from gka_dash.schema import agreement, approach, audit_log
from gka_dash.scope import Scope

from .test_views import open_page

HEADER = ";".join(approaches.COLUMNS)
GOOD = ("Huiswerkklas in de wijk;Een plek na school waar leerlingen met begeleiding hun huiswerk maken.;wijk|school;"
        "po|overgang po-vo;extra onderwijs;leerling|wijk;schooladvies|afstroom;leerlingen groep 6-8;9-13;"
        "goed onderbouwd;Voorbeeldbron, https://example.org/bron;2024-05-01;school|bibliotheek;Veenhaven=https://example.org")


def _file(tmp_path, *lines, name="aanpakken.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_the_shipped_catalogue_reads_and_names_a_source_and_date_for_every_entry():
    found = approaches.read(approaches.SHIPPED)
    assert len(found) >= 7
    for entry in found:
        assert "https://" in entry.source and date.fromisoformat(entry.source_date) <= date.today()
        assert entry.topics and entry.partners and entry.evidence in approaches.EVIDENCE
    # The one NJi-rated entry ranks before the described practices.
    assert [a.name for a in sorted(found, key=lambda a: a.rank)][0] == "VoorZorg"


def test_a_good_file_extends_the_shipped_catalogue_and_replaces_by_name(sqlite_engine, tmp_path):
    approaches.import_catalogue(sqlite_engine, _file(tmp_path, GOOD))
    names = [a.name for a in approaches.catalogue(sqlite_engine)]
    assert "Huiswerkklas in de wijk" in names and "Familie School" in names  # the shipped ones stay
    changed = GOOD.replace("goed onderbouwd", "effectief volgens eerste aanwijzingen")
    approaches.import_catalogue(sqlite_engine, _file(tmp_path, changed))
    kept = {a.name: a for a in approaches.catalogue(sqlite_engine)}
    assert kept["Huiswerkklas in de wijk"].evidence == "effectief volgens eerste aanwijzingen"
    assert len(kept) == len(names)
    assert kept["Huiswerkklas in de wijk"].ages == (9, 13)
    assert kept["Huiswerkklas in de wijk"].examples == (("Veenhaven", "https://example.org"),)


@pytest.mark.parametrize("change, where", [
    (lambda r: r.replace("wijk|school;", "buurthuis;", 1), "column domein"),
    (lambda r: r.replace("goed onderbouwd", "bewezen"), "column bewijs"),
    (lambda r: r.replace("2024-05-01", "01-05-2024"), "column bron_datum"),
    (lambda r: r.replace("2024-05-01", "2999-01-01"), "column bron_datum"),
    (lambda r: r.replace("Voorbeeldbron, https://example.org/bron", "alleen een naam"), "column bron"),
    (lambda r: r.replace("Veenhaven=https://example.org", "Veenhaven=javascript:alert(1)"), "column voorbeelden"),
    (lambda r: r.replace("9-13", "13-9"), "column leeftijd"),
    (lambda r: r.replace("Huiswerkklas in de wijk", "=HYPERLINK(\"https://evil\")"), "column naam"),
    (lambda r: r.replace("school|bibliotheek", "de buurman"), "column partners"),
    (lambda r: r.replace("schooladvies|afstroom", "geluk"), "column indicatoren"),
])
def test_a_broken_or_hostile_file_is_refused_whole_with_one_clear_line(sqlite_engine, tmp_path, change, where):
    approaches.import_catalogue(sqlite_engine, _file(tmp_path, GOOD.replace("Huiswerkklas", "Eerste"), name="a.csv"))
    with sqlite_engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(approach)).scalar()
    bad = _file(tmp_path, GOOD, change(GOOD.replace("Huiswerkklas in de wijk", "Tweede")), name="b.csv")
    if "naam" in where:
        bad = _file(tmp_path, GOOD, change(GOOD), name="b.csv")
    with pytest.raises(InputError) as refused:
        approaches.import_catalogue(sqlite_engine, bad)
    message = str(refused.value)
    assert message.startswith("b.csv, row 3, " + where) and "\n" not in message, message
    with sqlite_engine.connect() as conn:  # nothing of the file, not even its good first row
        assert conn.execute(select(func.count()).select_from(approach)).scalar() == before
        assert not conn.execute(select(approach.c.name).where(approach.c.name == "Huiswerkklas in de wijk")).first()


def test_an_approach_is_matched_to_the_highlight_of_its_topic_strongest_evidence_first(sqlite_engine, tmp_path):
    approaches.import_catalogue(sqlite_engine, _file(tmp_path, GOOD))
    found = approaches.matching(sqlite_engine, "afstroom_pct")
    assert [a.name for a in found] == ["Huiswerkklas in de wijk", "Kansrijk in het VO"]  # goed onderbouwd first
    assert [a.name for a in approaches.matching(sqlite_engine, "afstroom_pct", phases=["vo"])] == ["Kansrijk in het VO"]
    assert approaches.matching(sqlite_engine, "inwoners") == []  # a count moves no approach
    kinds = dict(approaches.partner_kinds(found))
    assert kinds["school"] == 2 and kinds["bibliotheek"] == 1


# Follow-up on planted figures: a wijk's afstroom 20,0 % of 400 pupils, then 26,0 % of 400.

@pytest.fixture
def planted(sqlite_engine):
    from .conftest import as_real
    from gka_dash import demo
    demo.build_demo(sqlite_engine)
    as_real(sqlite_engine)
    with sqlite_engine.begin() as conn:
        dataset = start_dataset(conn, kind="indicators", name="geplant", file_name="geplant.csv", digest="x" * 64,
                                rows=3, user="test")
        write_observations(conn, [observation_row("afstroom_pct", "WK990101", "GM9901", "2030-2031", 20.0, 400),
                                  observation_row("afstroom_pct", "WK990102", "GM9901", "2030-2031", 30.0, 5)],
                           dataset)
    return sqlite_engine


def _record(engine, scope=Scope(("GM9901",)), **extra):
    return agreements.record(engine, scope, "GM9901", highlight="Afstroom gestegen in Centrum", indicator="afstroom_pct",
                             subject="WK990101", subject_name="Centrum", lead="Team onderwijs", aim="Minder afstroom",
                             review_on=date(2031, 6, 1), author="veenhaven", **extra)


def _add_period(engine, value, n, period="2032-2033"):
    with engine.begin() as conn:
        dataset = start_dataset(conn, kind="indicators", name=period, file_name=f"{period}.csv", digest=period * 8,
                                rows=1, user="test")
        write_observations(conn, [observation_row("afstroom_pct", "WK990101", "GM9901", period, value, n)], dataset)


def test_the_follow_up_gives_the_change_since_the_baseline_with_its_margin(planted):
    from statsmodels.stats.proportion import confint_proportions_2indep
    key = _record(planted)
    scope = Scope(("GM9901",))
    entry = agreements.agreements(planted, scope, "GM9901")[0]
    assert (entry.key, entry.baseline_period, entry.baseline_value) == (key, "2030-2031", 20.0)
    assert entry.baseline_margin is not None and 3 < entry.baseline_margin < 6  # ±1,96·√(0,2·0,8/400)·100 ≈ 3,9, φ ≥ 1
    assert "nog geen nieuwer cijfer" in agreements.follow_up(planted, scope, entry).sentence
    _add_period(planted, 26.0, 400)
    follow = agreements.follow_up(planted, scope, entry)
    low, high = confint_proportions_2indep(104, 400, 80, 400, compare="diff", method="score")  # by hand: 26 % vs 20 %
    assert follow.change.change == pytest.approx(6.0)
    assert follow.change.low <= low * 100 + 1e-6 and follow.change.high >= high * 100 - 1e-6  # φ only widens it
    assert follow.sentence.startswith("sinds de afspraak (2030-2031): +6,0 procentpunt (marge ±")
    assert follow.sentence.endswith(f"in 2032-2033: {follow.change.verdict}")
    _add_period(planted, 21.0, 400, "2033-2034")  # a small step stays within the margin, and says so
    assert agreements.follow_up(planted, scope, entry).sentence.endswith("in 2033-2034: binnen de marge")


def test_an_agreement_on_a_withheld_figure_is_refused_and_versions_keep_the_baseline(planted):
    scope = Scope(("GM9901",))
    noord = agreements.record(planted, scope, "GM9901", highlight="x", indicator="afstroom_pct", subject="WK990102",
                              subject_name="Noord", lead="x", aim="x", review_on=date(2031, 1, 1), author="veenhaven")
    start = next(a for a in agreements.agreements(planted, scope, "GM9901") if a.key == noord)
    assert start.baseline_period != "2030-2031" and start.baseline_value != 30.0  # 5 pupils: withheld, never a baseline
    with pytest.raises(GkaError, match="geen waarde te tonen"):
        agreements.record(planted, scope, "GM9901", highlight="x", indicator="afstroom_pct", subject="WK999999",
                          subject_name="Nergens", lead="x", aim="x", review_on=date(2031, 1, 1), author="veenhaven")
    key = _record(planted)
    _add_period(planted, 26.0, 400)
    _record(planted, key=key, status="afgerond")
    entries = agreements.history(planted, scope, "GM9901")
    entries = [e for e in entries if e.key == key]
    assert [e.version for e in entries] == [2, 1] and {e.baseline_period for e in entries} == {"2030-2031"}
    assert next(a for a in agreements.agreements(planted, scope, "GM9901") if a.key == key).status == "afgerond"
    with planted.connect() as conn:
        assert conn.execute(select(func.count()).where(audit_log.c.action == "agreement")).scalar() == 3


def test_agreements_and_partners_of_another_gemeente_are_never_reachable(planted):
    key = _record(planted)
    agreements.add_partner(planted, Scope(("GM9901",)), "GM9901", "Bibliotheek Veenhaven", "bibliotheek",
                           "Voorlezen", "info@bieb.example", "veenhaven")
    other = Scope(("GM9902",))
    for read in (agreements.agreements, agreements.history, agreements.partners):
        with pytest.raises(ScopeError):
            read(planted, other, "GM9901")
    with pytest.raises(ScopeError):
        _record(planted, scope=other)
    with pytest.raises(GkaError):  # a key of another gemeente's agreement, sent with one's own gemeente
        agreements.record(planted, other, "GM9902", highlight="x", indicator="afstroom_pct", subject="WK990101",
                          subject_name="x", lead="x", aim="x", review_on=date(2031, 1, 1), author="dijkstede", key=key)
    with planted.connect() as conn:
        assert conn.execute(select(func.count()).select_from(agreement)).scalar() == 1


def test_the_report_pdf_and_slides_carry_the_afspraken(planted):
    _record(planted, approach="Kansrijk in het VO", partners=["school", "jongerenwerk"])
    _add_period(planted, 26.0, 400)
    built = report.build(planted, Scope(("GM9901",)), "GM9901", "Veenhaven", views=[], author="Test")
    html = report.to_html(built)
    assert "<h2>Afspraken</h2>" in html and "Kansrijk in het VO" in html and "sinds de afspraak (2030-2031)" in html
    assert agreements.CAVEAT in html
    deck = slides.to_pptx(built)
    assert b"ppt/slides" in deck
    from pptx import Presentation
    import io
    texts = [" ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
             for slide in Presentation(io.BytesIO(deck)).slides]
    assert any(t.startswith("Afspraak: Afstroom gestegen in Centrum") or "Afspraak: Afstroom gestegen" in t for t in texts)
    # The next slide follows the figure: a native line chart of the planted 20 % and 26 %, its
    # bounds and the baseline, filling most of the slide, each period's interval in the notes.
    from pptx.util import Pt
    shown = Presentation(io.BytesIO(deck))
    follow = next(slide for slide in shown.slides if any(
        s.has_text_frame and s.text_frame.text == "Afstroom in het vo in Centrum sinds de afspraak" for s in slide.shapes))
    frame = next(s for s in follow.shapes if s.has_chart)
    assert frame.width * frame.height >= 0.6 * shown.slide_width * shown.slide_height
    lines = {p.name: list(p.values) for p in frame.chart.plots[0].series}
    periods = list(frame.chart.plots[0].categories)
    assert periods[-2:] == ["2030-2031", "2032-2033"] and periods == sorted(periods)  # the demo's periods before
    assert lines["Afstroom in het vo"][-2:] == [20.0, 26.0]
    assert lines["Beginwaarde bij de afspraak"] == [None] * (len(periods) - 2) + [20.0, None]
    assert lines["95 %-marge, onder"][-2] < 20.0 < lines["95 %-marge, boven"][-2]
    assert frame.chart.font.size >= Pt(18)
    notes = follow.notes_slide.notes_text_frame.text
    assert "2030-2031: 20,0 % (95 %:" in notes and "2032-2033: 26,0 %" in notes and agreements.CAVEAT in notes


def test_the_gesprek_page_offers_approaches_under_a_highlight_and_records_an_agreement(demo_engine):
    at = open_page("pages/gesprek.py", gemeente="GM9901")
    labels = [e.label for e in at.expander]
    assert any(label.startswith("Wat kunnen we doen?") for label in labels), labels
    assert any("Kansrijk in het VO" in m.value for m in at.markdown)
    form_lead = next(t for t in at.text_input if t.label == "Trekker (organisatie of functie)")
    form_lead.input("Team onderwijs")
    next(t for t in at.text_area if t.label == "Doel").input("Minder afstroom in de wijk")
    next(b for b in at.button if b.label == "Afspraak opslaan").click()
    at.run()
    assert not at.exception
    assert any("Afspraak opgeslagen" in s.value for s in at.success), [e.value for e in at.error]
    at.run()
    assert any("sinds de afspraak" in m.value for m in at.markdown)
    with demo_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(agreement)).scalar() == 1
    overview = open_page("pages/overzicht.py", gemeente="GM9901")  # Overzicht follows it too, in one line
    assert any(h.value == "Afspraken" for h in overview.header)
    assert any("sinds de afspraak" in m.value and "evaluatie" in m.value for m in overview.markdown)


def test_a_partner_is_corrected_or_removed_on_the_page_within_its_gemeente(demo_engine):
    """Gesprek's partner list: a partner added, its role corrected in place, then removed (its
    contact erased, a line in the audit log for each); another gemeente's key changes nothing."""
    from gka_dash.schema import partner
    at = open_page("pages/gesprek.py", gemeente="GM9901")
    form = [t for t in at.text_input if t.label == "Organisatie"]
    form[-1].input("Bibliotheek Veenhaven")
    next(t for t in at.text_input if t.label == "Contact (een teamadres, geen persoonsgegevens)").input("info@bieb.example")
    next(b for b in at.button if b.label == "Partner toevoegen").click()
    at.run()
    assert any(m.value.startswith("Bibliotheek Veenhaven") for m in at.markdown)
    with demo_engine.connect() as conn:
        pid = conn.execute(select(partner.c.id)).scalar_one()
    role = next(t for t in at.text_input if t.label == "Rol in de aanpak" and t.proto.form_id == f"partner_{pid}")
    role.input("Voorleesuurtjes in de wijk")
    next(b for b in at.button if b.label == "Opslaan" and b.proto.form_id == f"partner_{pid}").click()
    at.run()
    assert not at.exception and any("Voorleesuurtjes in de wijk" in m.value for m in at.markdown), \
        [e.value for e in at.error]
    with pytest.raises(ScopeError):  # the same partner, through another gemeente's scope
        agreements.change_partner(demo_engine, Scope(("GM9902",)), "GM9901", pid, "Overgenomen", "school", "", "",
                                  "dijkstede")
    with pytest.raises(GkaError, match="staat niet"):  # its key with one's own gemeente
        agreements.change_partner(demo_engine, Scope(("GM9902",)), "GM9902", pid, "Overgenomen", "school", "", "",
                                  "dijkstede")
    next(b for b in at.button if b.label == "Verwijderen" and b.proto.form_id == f"partner_{pid}").click()
    at.run()
    assert not any(m.value.startswith("Bibliotheek Veenhaven") for m in at.markdown)
    with demo_engine.connect() as conn:
        kept = conn.execute(select(partner.c.organisation, partner.c.role, partner.c.contact,
                                   partner.c.removed_at)).one()
        actions = [a for a, in conn.execute(select(audit_log.c.action).where(audit_log.c.action.like("partner%"))
                                            .order_by(audit_log.c.id))]
    assert (kept.organisation, kept.role, kept.contact) == ("Bibliotheek Veenhaven", "Voorleesuurtjes in de wijk", "")
    assert kept.removed_at is not None and actions == ["partner_add", "partner_change", "partner_remove"]
