"""Landelijk: every gemeente or every wijk the user may see on one map, to compare across
gemeenten before choosing one; the outlines carry as much detail as a national map can show."""

import streamlit as st

from gka_dash import maps, queries, registry, tables, ui

LEVELS = {"wijk": "Wijken", "gemeente": "Gemeenten"}

user = ui.require_user()
ui.page_header("Landelijk", "Waar staat uw gemeente ten opzichte van de andere? Alle gemeenten of "
                            "wijken binnen uw bevoegdheid op één kaart; open er een in Kaart voor de details.")
gemeente = ui.gemeente_select(user)  # the one to open in detail; the map shows them all
engine = ui.engine()

left, middle, right = st.columns(3)
present = {level: queries.indicators_at(engine, user.scope, None, level, whole=True) for level in LEVELS}
if not any(present.values()):
    ui.empty("Er zijn nog geen gegevens per wijk of gemeente geladen.")
    st.stop()
level = ui.url_choice("Niveau", [k for k in LEVELS if present[k]], "niveau", format_func=LEVELS.get, where=left,
                      radio=True)
keys = present[level]
# A rate that differs between places (afstroom, else a context rate), never a count such as
# Inwoners: on one map of every gemeente a count shows only which places are big.
ind = ui.indicator_select("Indicator", keys, default=next((k for k in registry.MAP_PREFERENCE if k in keys), None),
                          where=middle)
labels = queries.periods(engine, user.scope, ind.key, level=level)
period = ui.url_choice("Periode", labels, "periode", default=labels[-1], where=right)

view, values = maps.scope_map(engine, user.scope, level, ind.key, period)
st.header(f"{ind.label}, {period} — {LEVELS[level].lower()} ({len(values.frame)})")
ui.map_view(view)
ui.withheld_note(values.withheld, ind.counted)
ui.about(ind, labels)
names = queries.gemeenten(engine, user.scope)
ui.table(user, tables.area_table(values, ind, period, level,
                                 gemeenten=dict(zip(names["code"], names["name"])) if level == "wijk" else None),
         f"landelijk-{level}-{ind.key}-{period}")

st.page_link("pages/kaart.py", label=f"Open {gemeente.name} in Kaart", icon=":material/map:",
             query_params={"gemeente": gemeente.code, "indicator": ind.key, "periode": period})
