"""The sidebar of a logged-in user: who is logged in, logout, password change."""

from __future__ import annotations

import streamlit as st

from .. import db
from ..access import users
from ..access.users import User
from .chrome import plain
from .database import engine
from .login import change_password, logout


def sidebar(user: User) -> None:
    with st.sidebar:
        scope = "alle gemeenten" if user.scope.is_everything else ", ".join(user.gemeenten)
        # Body text, not a caption: Streamlit's caption grey is 4,39:1 on the sidebar (axe-core 4.14).
        st.markdown(f"Ingelogd als **{plain(user.name)}** ({user.role}: {plain(scope)})")
        st.button("Uitloggen", key="logout_button", on_click=logout)
        if db.is_demo(engine()):
            st.warning("Synthetische demodata", icon=":material/science:")
        with st.expander("Wachtwoord wijzigen"):
            with st.form("password", clear_on_submit=True):
                current = st.text_input("Huidig wachtwoord", type="password", autocomplete="current-password")
                new = st.text_input(f"Nieuw wachtwoord (minstens {users.MIN_PASSWORD_LENGTH} tekens)",
                                    type="password", autocomplete="new-password")
                repeat = st.text_input("Herhaal", type="password", autocomplete="new-password")
                submitted = st.form_submit_button("Wijzigen")
            if submitted:
                problem = change_password(user, current, new, repeat)
                if problem:
                    st.error(f"Niet gewijzigd: {problem}")
                else:
                    st.success("Wachtwoord gewijzigd. Al uw sessies zijn beëindigd: log opnieuw in met het nieuwe wachtwoord.")
