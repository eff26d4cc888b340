"""Entry point: the login gate and the navigation.

Before a login the navigation holds only the login page, so every URL (/kaart, /beheer, …)
renders the login form and nothing else (design §7).
"""

import streamlit as st

from gka_dash import ui

st.set_page_config(page_title="GKA Dashboard Gelijke Kansen", layout="wide")

user = ui.current_user()
if user is None:
    st.navigation([st.Page(ui.login_page, title="Inloggen", url_path="inloggen")], position="hidden").run()
else:
    ui.sidebar(user)
    ui.run_page(st.navigation([
        st.Page("pages/overzicht.py", title="Overzicht", icon=":material/dashboard:", default=True),
        st.Page("pages/kaart.py", title="Kaart", icon=":material/map:"),
        st.Page("pages/afstroom.py", title="Afstroom", icon=":material/trending_down:"),
        st.Page("pages/scholen.py", title="Scholen", icon=":material/school:"),
        st.Page("pages/ouderopleiding.py", title="Ouderopleiding", icon=":material/family_restroom:"),
    ]))
