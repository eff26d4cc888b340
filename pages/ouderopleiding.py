"""Ouderopleiding: the share of 17-year-olds in havo/vwo or higher by their parents' education,
the gemeente against all gemeenten over the years, and the gap between the groups in words."""

import streamlit as st

from gka_dash import analysis, charts, formatting, privacy, queries, registry, tables, ui

user = ui.require_user()
ui.page_header("Ouderopleiding", "Hoe verklaren we dit? Hoe sterk de opleiding van de ouders bepaalt of "
                                 "17-jarigen havo, vwo of hoger onderwijs volgen.")
gemeente = ui.gemeente_select(user)
engine = ui.engine()

ind = registry.get("havo_vwo_17_pct")
if ind.key not in queries.indicators_at(engine, user.scope, gemeente.code, "gemeente"):
    ui.empty_state(user, f"Er zijn geen cijfers over 17-jarigen naar opleiding van de ouders voor {gemeente.name} "
                         "geladen.", registry.get("havo_vwo_17_pct"))
    st.stop()
groups = analysis.by_group(engine, user.scope, gemeente.code, gemeente.name, ind.key)
ui.statement(analysis.gap_text(groups, gemeente.name))
years = sorted(groups.frame["period"].unique())
ui.chart(user, charts.group_lines(groups.frame, ind, gemeente.name), f"ouderopleiding-{gemeente.code}",
         charts.Caption(f"{ind.label} naar opleiding van de ouders", gemeente.name,
                        f"{years[0]} tot {years[-1]}" if years else "", ind.source))
if (groups.frame["where"] == analysis.ALL_GEMEENTEN).any():
    st.caption("Doorgetrokken: " + gemeente.name + ", met een streep voor het 95 %-interval. Gestreept: alle "
               "gemeenten in de database samen, gewogen naar het aantal 17-jarigen (zonder interval: dat zou "
               "hun aantal verraden).")
else:
    st.caption(formatting.sentence_start(privacy.REFERENCE_WITHHELD) + ".")
ui.withheld_note(groups.withheld, ind.counted)
ui.about(ind, queries.periods(engine, user.scope, ind.key, gemeente=gemeente.code))
ui.table(user, tables.group_table(groups, ind), f"ouderopleiding-{gemeente.code}")
