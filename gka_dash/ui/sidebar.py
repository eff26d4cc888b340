"""The sidebar of a logged-in user: who is logged in, logout, password change."""

from __future__ import annotations

import streamlit as st

from .. import db, users
from ..users import User
from .chrome import plain
from .database import engine
from .login import authenticator, logout


def sidebar(user: User) -> None:
    with st.sidebar:
        scope = "alle gemeenten" if user.scope.is_everything else ", ".join(user.gemeenten)
        st.caption(f"Ingelogd als **{plain(user.name)}** ({user.role}: {plain(scope)})")
        st.button("Uitloggen", key="logout_button", on_click=logout)
        if db.is_demo(engine()):
            st.warning("Synthetische demodata", icon=":material/science:")
        with st.expander("Wachtwoord wijzigen"):
            try:
                changed = authenticator().reset_password(user.username, location="main", key="password", fields={
                    "Form name": "Wachtwoord wijzigen", "Current password": "Huidig wachtwoord",
                    "New password": "Nieuw wachtwoord (minstens 12 tekens)", "Repeat password": "Herhaal",
                    "Reset": "Wijzigen"})
            except Exception as exc:  # the library raises its own error types with an English text
                st.error(f"Niet gewijzigd: {exc}")
                changed = False
            if changed:
                new_hash = st.session_state["_authenticator"].authentication_controller.authentication_model.credentials[
                    "usernames"][user.username]["password"]
                with engine().begin() as conn:
                    users.store_password_hash(conn, user.username, new_hash, by=user.username)
                st.success("Wachtwoord gewijzigd.")
