"""Overzicht: the key figures of one gemeente from whatever is loaded, each with its references,
and which data is loaded."""

import streamlit as st

from gka_dash import analysis, charts, formatting, peers, queries, registry, ui
from gka_dash.periods import sort_periods

user = ui.require_user()
ui.page_header("Overzicht", "Wat gebeurt er? De belangrijkste cijfers van de gemeente, met de "
                            "vergelijking met alle gemeenten en met de vorige periode.")
gemeente = ui.gemeente_select(user)
engine = ui.engine()

figures = queries.key_figures(engine, user.scope, gemeente.code)
if not figures:
    ui.empty_state(user, f"Er zijn nog geen cijfers over {gemeente.name} geladen.", None)
for section in dict.fromkeys(f["section"] for f in figures):
    st.header(section)
    columns = st.columns(4)
    for i, figure in enumerate(f for f in figures if f["section"] == section):
        with columns[i % 4]:
            ui.key_figure(figure)

found = queries.peers(engine, gemeente.code)
if figures:
    st.caption("Onder elk cijfer: de periode, het aantal (n), het 95 %-interval (de marge: toeval, de gewone "
               "schommeling tussen jaargangen en, waar DUO kleine aantallen schatte, die schatting) en de "
               "vergelijking. Een verandering is alleen gekleurd als ze groter is dan de marge. Vergelijkingen "
               "staan er zonder n of marge: die zouden uw eigen cijfer eruit laten rekenen.")
    if found:
        st.caption(ui.plain(peers.describe(found, queries.gemeente_names(engine, tuple(found.codes)))))

    st.header("Verloop over alle perioden")
    labels = {f"{f['key']}:{f['group']}": f["label"] for f in figures}
    chosen = ui.url_choice("Cijfer", list(labels), "verloop", default=next(iter(labels)), format_func=labels.get)
    key, group = chosen.split(":")
    trend = queries.series(engine, user.scope, gemeente.code, key, group)
    if trend["period"].nunique() < 2:
        ui.empty(f"Voor {labels[chosen].lower()} is maar één periode geladen.")
    else:
        ind, spans = registry.get(key), sort_periods(trend["period"])
        ui.chart(user, charts.trend_lines(trend, ind, gemeente.name),
                 f"verloop-{key}{'-' + group if group else ''}-{gemeente.code}",
                 charts.Caption(f"Verloop: {labels[chosen]}", gemeente.name, f"{spans[0]} tot {spans[-1]}", ind.source))
        st.caption(ui.plain(analysis.trend_text(trend, registry.get(key), gemeente.name)))

ui.agreements.summary(user, gemeente)

st.header("Geladen gegevens")
counts = queries.counts(engine, user.scope, gemeente.code)
st.caption(" · ".join(f"{formatting.number(v, 0)} {k}" for k, v in counts.items()))
loaded = queries.loaded_datasets(engine, user.scope, gemeente.code)
if loaded.empty:
    st.info("Geen gegevens voor deze gemeente.")
else:
    ui.plain_table(loaded.assign(synthetisch=loaded["synthetic"].map({True: "ja (demo)", False: "nee"}))
                   [["indicator", "periode", "dataset", "synthetisch"]])
