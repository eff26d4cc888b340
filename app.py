"""Entry point: the navigation, with the login gate in every page.

Every page starts with ``ui.require_user()``, which shows the login form and stops when no one
is logged in. The gate therefore holds on every path into the app, including the one Streamlit
takes on a fresh server, where ``/kaart`` runs ``pages/kaart.py`` without this script (design
§7). A shared link (``/kaart?gemeente=…&periode=…``) opens the login form and, after a
successful login, the view it points to.
"""

import streamlit as st

from gka_dash import ui

st.set_page_config(page_title="GKA Dashboard Gelijke Kansen", layout="wide")

user = ui.current_user()
presenting, app_params = False, ()
if user is not None:
    app_params = ui.presentation_controls()
    presenting = ui.presenting()
    if not presenting:  # a shared screen shows no user name, password form or admin page
        ui.sidebar(user)


def shown(allowed: bool) -> str:
    """Every page is registered for everyone, so a link to any of them opens the login form and
    then the page (which gates itself by role); the menu lists only those this user may use."""
    return "visible" if allowed else "hidden"


ui.run_page(st.navigation([
    st.Page("pages/overzicht.py", title="Overzicht", icon=":material/dashboard:", default=True),
    st.Page("pages/kaart.py", title="Kaart", icon=":material/map:"),
    st.Page("pages/afstroom.py", title="Afstroom", icon=":material/trending_down:"),
    st.Page("pages/scholen.py", title="Scholen", icon=":material/school:"),
    st.Page("pages/ouderopleiding.py", title="Ouderopleiding", icon=":material/family_restroom:"),
    st.Page("pages/gesprek.py", title="Gesprek", icon=":material/forum:"),
    st.Page("pages/landelijk.py", title="Landelijk", icon=":material/public:",
            visibility=shown(user is not None and user.role in ("beheerder", "regio"))),
    st.Page("pages/sessies.py", title="Sessies", icon=":material/devices:",
            visibility=shown(user is not None and not presenting)),
    st.Page("pages/beheer.py", title="Beheer", icon=":material/admin_panel_settings:",
            visibility=shown(user is not None and user.role == "beheerder" and not presenting)),
], position="hidden" if user is None else "top" if presenting else "sidebar"),
    keep_params=user is None, app_params=app_params)
