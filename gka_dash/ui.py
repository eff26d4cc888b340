"""The one module of the core that imports Streamlit: login gate, shared layout and filters
bound to the URL, so pages stay a screenful of "what the user sees"."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from . import config, db, demo, queries, users
from .users import User

SYNTHETIC_NOTE = ("**Synthetisch (demo)** — alle gemeenten, wijken, scholen en cijfers in deze "
                  "database zijn verzonnen en dienen alleen om het dashboard te laten zien.")


def engine():
    return _prepared_engine(config.database_url())


@st.cache_resource(show_spinner="Database voorbereiden…")
def _prepared_engine(url: str):
    """One engine per database URL per process; an empty database first gets the demo."""
    eng = db.get_engine(url)
    demo.ensure_demo(eng)
    return eng


def current_user() -> User | None:
    """Re-read on every run, so a removed or locked account loses access at its next click."""
    username = st.session_state.get("username")
    if not username:
        return None
    with engine().connect() as conn:
        user = users.get_user(conn, username)
    if user is None or user.locked():
        st.session_state.pop("username", None)
        return None
    return user


def require_user() -> User:
    """Every page calls this first: without a login nothing below it runs."""
    user = current_user()
    if user is None:
        st.warning("U bent niet ingelogd.")
        st.stop()
    return user


def login_page() -> None:
    st.title("GKA Dashboard Gelijke Kansen")
    st.caption("Gesloten omgeving voor medewerkers van gemeenten en regiocoördinatoren van de "
               "Gelijke Kansen Alliantie.")
    with st.form("login"):
        username = st.text_input("Gebruikersnaam")
        password = st.text_input("Wachtwoord", type="password")
        submitted = st.form_submit_button("Inloggen", type="primary")
    if submitted:
        _attempt_login(username.strip().lower(), password)
    if db.is_demo(engine()):
        st.info(SYNTHETIC_NOTE + "\n\nDemo-accounts: " + "; ".join(
            f"`{u}` / `{pw}` ({role}{' ' + ', '.join(g) if g else ''})"
            for u, role, g, pw, _ in demo.DEMO_USERS))


def _attempt_login(username: str, password: str) -> None:
    with engine().begin() as conn:
        user = users.get_user(conn, username)
        if user is not None and user.locked():
            st.error(f"Dit account is tijdelijk geblokkeerd na te veel mislukte pogingen. "
                     f"Probeer het na {user.locked_until:%H:%M} UTC opnieuw of vraag een beheerder.")
            return
        ok = user is not None and users.verify_password(password, users.password_hash(conn, username))
        users.record_login(conn, username or "-", ok, max_failures=config.max_failed_logins(),
                           lockout=timedelta(minutes=config.lockout_minutes()))
    if ok:
        st.session_state["username"] = username
        st.rerun()
    st.error("Gebruikersnaam of wachtwoord onjuist.")


def logout() -> None:
    st.session_state.clear()


def sidebar(user: User) -> None:
    with st.sidebar:
        scope = "alle gemeenten" if user.scope.is_everything else ", ".join(user.gemeenten)
        st.caption(f"Ingelogd als **{user.name}** ({user.role}: {scope})")
        st.button("Uitloggen", on_click=logout)
        if db.is_demo(engine()):
            st.warning("Synthetische demodata", icon=":material/science:")


def page_header(title: str, subtitle: str = "") -> None:
    st.title(title)
    if subtitle:
        st.caption(subtitle)
    if db.is_demo(engine()):
        st.info(SYNTHETIC_NOTE, icon=":material/science:")


def gemeente_select(user: User) -> str:
    """The gemeente filter, kept in the URL (?gemeente=GM…) so a view can be shared as a link.

    A link to a gemeente outside the user's scope stops the page with a message and shows
    nothing of that gemeente.
    """
    options = queries.gemeenten(engine(), user.scope)
    if options.empty:
        st.info("Er zijn nog geen gegevens voor uw gemeente(n) geladen.")
        st.stop()
    requested = st.query_params.get("gemeente")
    if requested and not user.scope.allows(requested):
        st.error(f"Gemeente {requested} valt buiten uw bevoegdheid; er wordt niets van getoond. "
                 "Kies in de zijbalk een gemeente waarvoor u bent gemachtigd.")
        requested = None
    codes = options["code"].tolist()
    names = dict(zip(options["code"], options["name"]))
    index = codes.index(requested) if requested in codes else 0
    chosen = st.sidebar.selectbox("Gemeente", codes, index=index, format_func=lambda c: f"{names[c]} ({c})")
    st.query_params["gemeente"] = chosen
    return user.scope.check(chosen)
