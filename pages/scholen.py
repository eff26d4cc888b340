"""Scholen: each PO school's mean toetsadvies against its % APCG pupils, one colour per school,
its path over the school years, and the line all schools together lead one to expect."""

import streamlit as st

from gka_dash import analysis, apcg, charts, formatting, queries, registry, stats, tables, ui

user = ui.require_user()
ui.page_header("Scholen", "Hoe verklaren we dit? Het gemiddelde advies van elke basisschool naast de "
                          "leerlingpopulatie: scholen boven de stippellijn doen het beter dan je op grond "
                          "van hun leerlingen zou verwachten.")
gemeente = ui.gemeente_select(user)
engine = ui.engine()

present = queries.indicators_at(engine, user.scope, gemeente.code, "school")
x_keys = [k for k in registry.SCHOOL_POPULATION if k in present]
y_keys = [k for k in registry.SCHOOL_OUTCOMES if k in present]
if not x_keys or not y_keys:
    ui.empty_state(user, f"Er zijn voor {gemeente.name} geen schoolcijfers geladen om tegen elkaar uit te zetten "
                         "(een uitkomst zoals toetsadvies of schooladvies, en de leerlingpopulatie zoals % APCG "
                         "of de achterstandsscore).", registry.get("toetsadvies_gem"))
    st.stop()
with ui.controls():
    left, right = st.columns(2)
    y_ind = ui.indicator_select("Uitkomst (verticaal)", y_keys, default="toetsadvies_gem", where=left)
    x_ind = ui.indicator_select("Leerlingpopulatie (horizontaal)", x_keys, "x", default="apcg_pct", where=right)

pairs = analysis.school_pairs(engine, user.scope, gemeente.code, x_ind.key, y_ind.key, pseudonyms=ui.pseudonyms())
if pairs.frame.empty:
    ui.empty(f"Geen scholen van {gemeente.name} met beide cijfers in hetzelfde schooljaar.")
    ui.withheld_note(pairs.withheld)
    st.stop()
years = sorted(pairs.frame["period"].unique())
schools = queries.schools(engine, user.scope, gemeente.code, pseudonyms=ui.pseudonyms())
with ui.controls():
    chosen = ui.url_choices("Schooljaren", years, "jaren")
    highlight = ui.school_select(user, schools, pairs.frame["id"].unique())
shown = pairs._replace(frame=pairs.frame[pairs.frame["period"].isin(chosen)])
shown_years = "schooljaren " + ", ".join(sorted(chosen))
sources = y_ind.source if y_ind.source == x_ind.source else f"{y_ind.source}; {x_ind.source}"

if shown.frame.empty:
    ui.empty("Kies ten minste één schooljaar.")
else:
    ui.chart(user, charts.school_scatter(shown.frame, schools, x_ind, y_ind, pairs.fit, highlight),
             f"scholen-{y_ind.key}-{x_ind.key}-{gemeente.code}",
             charts.Caption(f"{y_ind.label} tegen {x_ind.label.lower()}", gemeente.name, shown_years, sources))
    if pairs.fit:
        st.caption(f"Stippellijn: verwachte waarde bij deze leerlingpopulatie, berekend over {pairs.fit.points} "
                   "school-jaren van alle gemeenten in de database (gewogen naar aantal leerlingen). "
                   "Wijs een punt aan voor de naam; kies hierboven een school om haar en haar verloop over "
                   "de jaren te markeren.")
if not shown.frame.empty and shown.frame["limit95"].notna().any():
    st.header("Trechter: welke scholen wijken echt af?")
    st.caption("Elke stip is een school in een schooljaar: hoeveel haar uitkomst afwijkt van wat haar leerlingen "
               "doen verwachten, tegen haar aantal leerlingen. Kleine scholen wijken door toeval meer af; alleen "
               "een stip buiten de trechter wijkt meer af dan toeval en de gewone verschillen tussen scholen "
               f"verklaren. {ui.plain(formatting.sentence_start(stats.basis(y_ind.unit)))}.")
    st.markdown(ui.plain(analysis.funnel_summary(shown.frame)))
    ui.chart(user, charts.funnel(shown.frame, schools, y_ind, pairs.fit, highlight),
             f"trechter-{y_ind.key}-{x_ind.key}-{gemeente.code}",
             charts.Caption(f"{y_ind.label}: verschil met verwachting", gemeente.name, shown_years, sources))
if highlight:
    similar = analysis.similar_schools(shown.frame, highlight)
    if len(similar):
        st.header("Scholen met een vergelijkbare leerlingpopulatie")
        st.caption("De scholen van deze gemeente die in hetzelfde schooljaar het dichtst bij de gekozen school "
                   f"liggen op {x_ind.label.lower()}: wat bereiken zij?")
        ui.plain_table(tables.school_table(pairs._replace(frame=similar), x_ind, y_ind))
for note in (pairs.note, x_ind.caveat if x_ind.key != "apcg_pct" else apcg.lists_note(engine, years)):
    if note:
        st.caption(note)
ui.withheld_note(pairs.withheld)
ui.about(y_ind, years)
ui.table(user, tables.school_table(shown, x_ind, y_ind), f"scholen-{y_ind.key}-{x_ind.key}-{gemeente.code}")
