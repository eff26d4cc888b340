"""The login gate: streamlit-authenticator's form with credentials from the database, lockout,
the audit of logins, and the rules a deployment must meet before any form is shown."""

from __future__ import annotations

import os
from datetime import timedelta

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError, Validator

from .. import audit, auth, config, db, demo, users
from ..users import User
from .chrome import SYNTHETIC_NOTE
from .database import engine


def _secret(name: str, env: str, default=None):
    """A setting from the environment or from [auth] in .streamlit/secrets.toml, never from code."""
    if os.environ.get(env):
        return os.environ[env]
    try:
        return st.secrets.get("auth", {}).get(name, default)
    except FileNotFoundError:  # no secrets.toml at all
        return default


def cookie_key() -> str | None:
    return _secret("cookie_key", "GKA_COOKIE_KEY") or (auth.DEMO_COOKIE_KEY if db.is_demo(engine()) else None)


class PasswordRule(Validator):
    """The dashboard's rule (at least 12 characters) instead of the library's 8-20 with symbols."""

    def validate_password(self, password: str) -> bool:
        return len(password) >= users.MIN_PASSWORD_LENGTH


def authenticator() -> stauth.Authenticate:
    """streamlit-authenticator for this session, with credentials re-read from the database.

    The object lives as long as the session (building it renders its cookie component, which
    may happen once per run at most); its credentials are replaced on every call, so an
    account added, removed or locked in Beheer counts from the next click.
    """
    built = st.session_state.get("_authenticator")
    if built is None:
        built = stauth.Authenticate({"usernames": {}}, cookie_name=auth.COOKIE_NAME, cookie_key=cookie_key(),
                                    cookie_expiry_days=float(_secret("cookie_expiry_days", "GKA_COOKIE_EXPIRY_DAYS", 1)),
                                    validator=PasswordRule(), auto_hash=False, login_sleep_time=0)
        st.session_state["_authenticator"] = built
    with engine().connect() as conn:
        built.authentication_controller.authentication_model.credentials = auth.credentials(conn)
    return built


def refuse_unsafe_deployment() -> None:
    problems = auth.deployment_problems(engine(), cookie_key())
    if problems:
        st.error("Het dashboard start niet, omdat deze installatie niet veilig is: " + "; ".join(problems) + ".")
        st.stop()


def current_user() -> User | None:
    """The logged-in user, re-read from the database on every run, so a removed or locked
    account loses access at its next click. A valid login cookie logs in without the form."""
    refuse_unsafe_deployment()
    try:
        authenticator().login(location="unrendered")
    except LoginError:  # a cookie of an account that no longer exists
        st.session_state["authentication_status"] = None
    username = st.session_state.get("username")
    if not st.session_state.get("authentication_status") or not username:
        return None
    with engine().connect() as conn:
        user = users.get_user(conn, username)
    if user is None or user.locked():
        _forget()
        return None
    _store_login_cookie()
    return user


def require_user() -> User:
    """Every page calls this first: without a login it shows the login form and nothing else."""
    user = current_user()
    if user is None:
        login_page()
        st.stop()
    return user


def login_page() -> None:
    st.title("GKA Dashboard Gelijke Kansen")
    st.caption("Gesloten omgeving voor medewerkers van gemeenten en regiocoördinatoren van de "
               "Gelijke Kansen Alliantie.")
    authenticator().login(location="main", key="login", fields={
        "Form name": "Inloggen", "Username": "Gebruikersnaam", "Password": "Wachtwoord", "Login": "Inloggen"})
    status = st.session_state.get("authentication_status")
    if status is True:
        _record_login(st.session_state["username"], True)
        st.session_state["_cookie_due"] = True
        st.rerun()
    if status is False:
        _record_failure()
    if db.is_demo(engine()):
        st.info(SYNTHETIC_NOTE + "\n\nDemo-accounts: " + "; ".join(
            f"`{u}` / `{pw}` ({role}{' ' + ', '.join(g) if g else ''})"
            for u, role, g, pw, _ in demo.DEMO_USERS))


def _record_login(username: str, success: bool) -> User | None:
    with engine().begin() as conn:
        return users.record_login(conn, username, success, max_failures=config.max_failed_logins(),
                                  lockout=timedelta(minutes=config.lockout_minutes()))


def _record_failure() -> None:
    """Count the failure against the account the library just refused (it keeps the count of
    this run in its credentials); an unknown name is audited as such."""
    tried = [name for name, entry in st.session_state["_authenticator"].authentication_controller.authentication_model
             .credentials["usernames"].items() if entry.get("failed_login_attempts")]
    user = _record_login(tried[0], False) if tried else _record_login("-", False)
    if user is not None and user.locked():
        st.error(f"Dit account is tijdelijk geblokkeerd na te veel mislukte pogingen. Probeer het na "
                 f"{user.locked_until:%H:%M} UTC opnieuw of vraag een beheerder.")
    else:
        st.error("Gebruikersnaam of wachtwoord onjuist.")
    st.session_state["authentication_status"] = None


def _forget() -> None:
    """End the session's login and drop every filter and cached object of it."""
    for key in list(st.session_state):
        if key not in ("logout", "_authenticator"):
            del st.session_state[key]
    st.session_state["authentication_status"] = None


def _logged_out(details: dict) -> None:
    with engine().begin() as conn:
        audit.log(conn, details.get("username") or "-", "logout")
    _forget()


def _store_login_cookie() -> None:
    """Write the login cookie in the first run after a form login.

    The library writes it through a browser component in the login run itself, but that run
    ends in ``st.rerun()`` before the browser has mounted the component, so the cookie would
    never arrive; this run renders the component and lets it finish.
    """
    if st.session_state.pop("_cookie_due", False):
        authenticator().cookie_controller.set_cookie()
