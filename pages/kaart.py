"""Kaart: the wijken of one gemeente coloured by an indicator, or by its change between two
periods, with the schools on top when asked."""

import streamlit as st

from gka_dash import analysis, maps, queries, registry, tables, ui

user = ui.require_user()
ui.page_header("Kaart", "Wat gebeurt er waar? Kies een indicator en periode; vergelijk twee perioden "
                        "om te zien in welke wijken het beter of slechter ging.")
gemeente = ui.gemeente_select(user)
engine = ui.engine()

keys = queries.indicators_at(engine, user.scope, gemeente.code, "wijk")
if not keys:
    ui.empty(f"Geen wijkgegevens voor {gemeente.name}.")
    st.stop()
with ui.controls():
    left, middle, right = st.columns(3)
    ind = ui.indicator_select("Indicator", keys, where=left,
                              default=next((k for k in registry.MAP_PREFERENCE if k in keys), None))
    labels = queries.periods(engine, user.scope, ind.key, gemeente=gemeente.code, level="wijk")
    period = ui.url_choice("Periode", labels, "periode", default=labels[-1], where=middle)
    compare = ui.url_choice("Verschil met", ["", *[p for p in labels if p != period]], "vergelijk", where=right,
                            format_func=lambda p: p or "geen (alleen deze periode)")
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    wijk = ui.wijk_select(queries.areas(engine, user.scope, gemeente.code), where=left)
    show_schools = ui.url_flag("Toon PO-scholen", "scholen", where=right)
schools = queries.schools(engine, user.scope, gemeente.code, pseudonyms=ui.pseudonyms()) if show_schools else None

if compare:
    before, after = sorted([compare, period], key=labels.index)
    values = analysis.wijk_change(engine, user.scope, gemeente.code, ind.key, before, after)
    view = maps.change_map(values, ind, before, after, schools=schools, selected=wijk or None, projector=ui.presenting())
    title, table = f"Verandering {before} → {after}", tables.change_table(values, ind, before, after)
else:
    values = analysis.area_values(engine, user.scope, gemeente.code, ind.key, period)
    scale = queries.level_values(engine, user.scope, ind.key, "wijk", gemeente=gemeente.code)
    view = maps.level_map(values, ind, period, scale, schools=schools, selected=wijk or None,
                          projector=ui.presenting())
    title, table = f"{ind.label}, {period}", tables.area_table(values, ind, period)

st.header(f"{title} — {gemeente.name}")
st.markdown(ui.plain(analysis.verdict_summary(values.frame) if compare else analysis.level_summary(values.frame, ind)))
ui.map_view(view, select="wijk")
ui.withheld_note(values.withheld, ind.counted)
ui.about(ind, labels)
ui.table(user, table, f"kaart-{ind.key}-{gemeente.code}-{period}{'-' + compare if compare else ''}",
         mark=("Wijkcode", wijk) if wijk else None)
