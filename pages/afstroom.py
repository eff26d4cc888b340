"""Afstroom: per wijk, two periods side by side, sorted by change, with the gemeente's and all
gemeenten's average as reference; the map of the change and the table. Opstroom alongside."""

import pandas as pd
import streamlit as st

from gka_dash import analysis, charts, formatting, maps, privacy, queries, registry, tables, ui

PROJECTOR_ROWS, PROJECTOR_STEP = 12, 40  # wijken on one screen, and each one's height
MAP_OPEN = "afstroom_kaart_open"

user = ui.require_user()
ui.page_header("Afstroom en opstroom", "Wat gebeurt er? Het aandeel leerlingen uit elke wijk dat in het vo "
                                       "naar een lager (afstroom) of hoger (opstroom) schooltype ging, "
                                       "in twee perioden naast elkaar.")
gemeente = ui.gemeente_select(user)
engine = ui.engine()

keys = [k for k in ("afstroom_pct", "opstroom_pct")
        if k in queries.indicators_at(engine, user.scope, gemeente.code, "wijk")]
VO_KEYS = ("vo_afstroom_pct", "vo_opstroom_pct", "vo_zittenblijven_pct")


def vo_schools() -> None:
    """Without the restricted table per woonwijk: DUO's public figures per vo-school, and the
    gemeente's figure by school location and (an estimate) by residence."""
    vo_keys = [k for k in VO_KEYS if k in queries.indicators_at(engine, user.scope, gemeente.code, "school")]
    st.header(f"Op- en afstroom op de vo-scholen van {gemeente.name}")
    ui.explain("Uit DUO's openbare cijfers per vo-vestiging: hoeveel leerlingen van het ene schooljaar op het "
               "volgende naar een lager of hoger schooltype gingen of bleven zitten. Per school, niet per "
               "woonwijk: de cijfers per wijk komen uit de maatwerktabel (microdata) van de gemeente.")
    with ui.controls():
        ind = ui.indicator_select("Indicator", vo_keys, radio=True)
        labels = queries.periods(engine, user.scope, ind.key, gemeente=gemeente.code)
        period = ui.url_choice("Schooljaar", labels, "periode", default=labels[-1])
    following = f"{int(period[:4]) + 1}-{int(period[:4]) + 2}"
    for figure in analysis.vo_gemeente_figures(engine, user.scope, gemeente.code, ind.key, period):
        st.markdown(ui.plain(f"{figure.ind.label}, {period} → {following}: {formatting.value(figure.value, ind.unit)} "
                             f"(95 %: {formatting.interval(figure.low, figure.high, ind.unit)}; "
                             f"{formatting.number(figure.n, 0)} leerlingen)."))
        if figure.ind.key.endswith("_woon_pct"):
            st.caption(ui.plain(figure.ind.caveat))
    values = analysis.school_values(engine, user.scope, gemeente.code, ind.key, period)
    ui.withheld_note(values.withheld, ind.counted)
    ui.about(ind, labels)
    ui.table(user, tables.area_table(values, ind, f"{period} → {following}", level="school"),
             f"{ind.key}-{gemeente.code}-{period}")


if not keys:
    if any(k in queries.indicators_at(engine, user.scope, gemeente.code, "school") for k in VO_KEYS):
        vo_schools()
    else:
        ui.empty_state(user, f"Er zijn geen cijfers over afstroom en opstroom per wijk van {gemeente.name} geladen.",
                       registry.get("afstroom_pct"))
    st.stop()
with ui.controls():
    ind = ui.indicator_select("Indicator", keys, radio=True)
    labels = queries.periods(engine, user.scope, ind.key, gemeente=gemeente.code)
    if len(labels) < 2:
        ui.empty(f"Voor {ind.label.lower()} is er maar één periode ({', '.join(labels)}); vergelijken kan niet.")
        st.stop()
    left, right = st.columns(2)
    before = ui.url_choice("Van periode", labels[:-1], "van", default=labels[-2], where=left)
    after = ui.url_choice("Naar periode", [p for p in labels if labels.index(p) > labels.index(before)], "tot",
                          default=labels[-1], where=right)
    change = analysis.wijk_change(engine, user.scope, gemeente.code, ind.key, before, after)
    wijk = ui.wijk_select(change.frame)
references = analysis.reference_means(engine, user.scope, gemeente.code, ind.key, [before, after])


def say_references() -> None:
    st.markdown(" · ".join(
        f"**{where}:** " + " → ".join(formatting.value(v, ind.unit) if pd.notna(v) else "niet getoond"
                                      for v in references[column])
        for where, column in ((f"gemiddelde {gemeente.name}", "gemeente"), ("alle gemeenten", "alle"))))
    if references["alle"].isna().any():
        st.caption(formatting.sentence_start(privacy.REFERENCE_WITHHELD) + ".")


if not ui.presenting():  # while presenting they follow the chart, which comes first
    say_references()

if change.frame["change"].notna().any():
    st.header(f"{ind.label} per wijk, {before} en {after}")
    ui.explain("Gesorteerd op verandering: bovenaan de wijken waar het aandeel het meest steeg. De dunne "
               "strepen zijn 95 %-intervallen: hoe ver het cijfer door toeval alleen van een andere lichting "
               "leerlingen had kunnen liggen.")
    st.markdown(ui.plain(analysis.verdict_summary(change.frame)))
    caption = charts.Caption(f"{ind.label} per wijk", gemeente.name, f"{before} en {after}", ind.source)
    if ui.presenting():  # a screen holds a dozen wijken in type the room can read: the list in parts
        parts = charts.dumbbell_pages(change.frame, ind, before, after, references, gemeente.name, PROJECTOR_ROWS,
                                      step=PROJECTOR_STEP)
        chart_place = st.container()
        shown = ui.part_select(len(parts), int(change.frame["change"].notna().sum()), "wijken")
        with chart_place:
            ui.chart(user, parts[shown], f"{ind.key}-{gemeente.code}-{before}-{after}", caption)
        say_references()
    else:
        ui.chart(user, charts.dumbbell(change.frame, ind, before, after, references, gemeente.name, wijk or None),
                 f"{ind.key}-{gemeente.code}-{before}-{after}", caption)
    # On request: drawing the map (deck.gl) took more of a new tab's time than everything else on the
    # page together (benchmarks/RESULTS.md), and the chart above already is the view.
    with st.expander("Kaart van de verandering", icon=":material/map:", key=MAP_OPEN, on_change="rerun") as place:
        if place.open:
            ui.map_view(maps.change_map(change, ind, before, after, selected=wijk or None,
                                        projector=ui.presenting()), select="wijk")
            ui.explain("Wit: de verandering valt binnen de marge. Gekleurd: groter dan toeval verklaart "
                       "(95 %-interval van het verschil zonder nul; per wijk getoetst).")
else:
    ui.empty(f"Geen wijk van {gemeente.name} heeft cijfers in beide perioden.")
ui.withheld_note(change.withheld, ind.counted)
ui.about(ind, labels)
ui.table(user, tables.change_table(change, ind, before, after), f"{ind.key}-{gemeente.code}-{before}-{after}",
         mark=("Wijkcode", wijk) if wijk else None)
