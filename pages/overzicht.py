"""Overzicht: the key figures of one gemeente from whatever is loaded, each with its references,
and which data is loaded."""

import streamlit as st

from gka_dash import formatting, queries, ui

user = ui.require_user()
ui.page_header("Overzicht", "Wat gebeurt er? De belangrijkste cijfers van de gemeente, met de "
                            "vergelijking met alle gemeenten en met de vorige periode.")
gemeente = ui.gemeente_select(user)
engine = ui.engine()

figures = queries.key_figures(engine, user.scope, gemeente.code)
if not figures:
    ui.empty_state(user, f"Er zijn nog geen cijfers over {gemeente.name} geladen.", None)
for section in dict.fromkeys(f["section"] for f in figures):
    st.subheader(section)
    columns = st.columns(4)
    for i, figure in enumerate(f for f in figures if f["section"] == section):
        with columns[i % 4]:
            ui.key_figure(figure)

st.subheader("Geladen gegevens")
counts = queries.counts(engine, user.scope, gemeente.code)
st.caption(" · ".join(f"{formatting.number(v, 0)} {k}" for k, v in counts.items()))
loaded = queries.loaded_datasets(engine, user.scope, gemeente.code)
if loaded.empty:
    st.info("Geen gegevens voor deze gemeente.")
else:
    ui.plain_table(loaded.assign(synthetisch=loaded["synthetic"].map({True: "ja (demo)", False: "nee"}))
                   [["indicator", "periode", "dataset", "synthetisch"]])
