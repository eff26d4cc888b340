"""Overzicht: key figures of one gemeente with their references, and which data is loaded."""

import streamlit as st

from gka_dash import formatting, queries, ui

user = ui.require_user()
ui.page_header("Overzicht", "Wat gebeurt er? De belangrijkste cijfers van de gemeente, met de "
                            "vergelijking met alle gemeenten en met de vorige periode.")
gemeente = ui.gemeente_select(user).code
engine = ui.engine()

counts = queries.counts(engine, user.scope, gemeente)
figures = queries.key_figures(engine, user.scope, gemeente)
columns = st.columns(4)
for i, figure in enumerate(figures):
    delta = (figure["value"] - figure["previous"]
             if figure["value"] is not None and figure["previous"] is not None else None)
    with columns[i % 4]:
        st.metric(
            figure["label"],
            formatting.value(figure["value"], figure["unit"]),
            delta=formatting.difference(delta, figure["unit"]) + (f" t.o.v. {figure['previous_period']}" if delta is not None else "") or None,
            delta_color={True: "normal", False: "inverse", None: "off"}[figure["higher_is_better"]],
        )
        st.caption(f"{figure['period']} · alle gemeenten: {formatting.value(figure['all_gemeenten'], figure['unit'])}"
                   + (f" · {figure['withheld']} {'waarde' if figure['withheld'] == 1 else 'waarden'} "
                      "onderdrukt (te weinig leerlingen)" if figure["withheld"] else ""))

st.subheader("Geladen gegevens")
st.caption(" · ".join(f"{v} {k}" for k, v in counts.items()))
loaded = queries.loaded_datasets(engine, user.scope, gemeente)
if loaded.empty:
    st.info("Geen gegevens voor deze gemeente.")
else:
    st.dataframe(
        loaded.assign(synthetisch=loaded["synthetic"].map({True: "ja (demo)", False: "nee"}))
        [["indicator", "periode", "dataset", "synthetisch"]],
        hide_index=True, width="stretch")
