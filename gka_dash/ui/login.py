"""The login gate: streamlit-authenticator's form with credentials from the database, lockout,
the audit of logins, and the rules a deployment must meet before any form is shown."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta

import streamlit as st
import streamlit_authenticator as stauth
from sqlalchemy.exc import SQLAlchemyError
from streamlit_authenticator.utilities import Validator

from .. import audit, auth, config, db, demo, sessions, users, web
from ..users import User
from .chrome import SYNTHETIC_NOTE, database_unreachable
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
        # The library's own cookie (a signed username that cannot be revoked) is switched off:
        # expiry 0 days means it never writes one; the session cookie is ours (current_user).
        built = stauth.Authenticate({"usernames": {}}, cookie_name=auth.LIBRARY_COOKIE_NAME, cookie_key=cookie_key(),
                                    cookie_expiry_days=0,
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
    """The logged-in user, re-read from the database on every run, so a removed, locked or
    logged-out account loses access at its next click.

    The session token lives in this browser session's state after a form login, and in the
    login cookie for a new tab or a reload; either way the database decides whether it still
    opens a session (see :mod:`gka_dash.sessions`).
    """
    try:
        return _session_user()
    except SQLAlchemyError:
        database_unreachable()


def _session_user() -> User | None:
    refuse_unsafe_deployment()
    cookie = st.context.cookies.get(auth.COOKIE_NAME)
    token = st.session_state.get("_session_token") or (cookie if isinstance(cookie, str) else None)
    if not token:
        return None
    with engine().connect() as conn:
        username = sessions.username(conn, token)
        user = users.get_user(conn, username) if username else None
    if user is None or user.locked():
        if "_session_token" in st.session_state:  # logged in until now: end it, filters and all
            _forget()
        return None  # a stale cookie alone: show the form, and leave what is typed in it alone
    st.session_state.update({"_session_token": token, "authentication_status": True, "username": user.username,
                             "name": user.name})
    return user


def require_user() -> User:
    """Every page calls this first: without a login it shows the login form and nothing else."""
    user = current_user()
    if user is None:
        login_page()
        st.stop()
    return user


LOG = logging.getLogger("gka_dash.login")
LOGIN_FAILED = ("Inloggen mislukt. Controleer uw gebruikersnaam en wachtwoord; na herhaalde mislukte pogingen "
                "wordt een account tijdelijk geblokkeerd. Lukt het niet, vraag dan de beheerder.")
LOGIN_UNAVAILABLE = "Inloggen kan op dit moment niet. Probeer het over een minuut opnieuw."


def login_page() -> None:
    st.title("GKA Dashboard Gelijke Kansen")
    st.caption("Gesloten omgeving voor medewerkers van gemeenten en regiocoördinatoren van de "
               "Gelijke Kansen Alliantie.")
    authenticator().login(location="main", key="login", fields={
        "Form name": "Inloggen", "Username": "Gebruikersnaam", "Password": "Wachtwoord", "Login": "Inloggen"})
    status = st.session_state.get("authentication_status")
    if status is True:
        _start_session(st.session_state["username"])
    elif status is False:
        _record_failure()
    if db.is_demo(engine()):
        st.info(SYNTHETIC_NOTE + "\n\nDemo-accounts: " + "; ".join(
            f"`{u}` / `{pw}` ({role}{' ' + ', '.join(g) if g else ''})"
            for u, role, g, pw, _ in demo.DEMO_USERS))
    clear_login_cookie()  # last on the page: while it waits for its answer it shifts nothing


def _start_session(username: str) -> None:
    """The password was right: audit the login and open a server-side session, in one
    transaction. If that cannot be written (the database busy with an import past its wait,
    or down) there is no login: an unaudited login is no login (fail closed)."""
    lifetime = timedelta(days=float(_secret("cookie_expiry_days", "GKA_COOKIE_EXPIRY_DAYS", 1)))
    try:
        with engine().begin() as conn:
            users.record_login(conn, username, True, max_failures=config.max_failed_logins(),
                               lockout=timedelta(minutes=config.lockout_minutes()))
            token = sessions.create(conn, username, lifetime)
    except SQLAlchemyError as exc:
        LOG.warning("login of %r refused: the audit could not be written (%s)", username, db.describe_fault(exc))
        st.session_state["authentication_status"] = None
        st.error(LOGIN_UNAVAILABLE)
        return
    st.session_state["_session_token"] = token
    st.session_state.pop("_cookie_clear_due", None)  # the new cookie replaces the old one anyway
    st.session_state["_cookie_due"] = secrets.token_hex(8)
    st.rerun()


def _record_failure() -> None:
    """Count the failure against the account the library just refused; an unknown name is
    audited as such and costs the same bcrypt time, and every failure gets the same words, so
    neither the answer nor its timing tells which usernames exist or are locked."""
    tried = [name for name, entry in st.session_state["_authenticator"].authentication_controller.authentication_model
             .credentials["usernames"].items() if entry.get("failed_login_attempts")]
    if not tried:
        auth.spend_password_check()
    st.session_state["authentication_status"] = None
    try:
        with engine().begin() as conn:
            users.record_login(conn, tried[0] if tried else "-", False, max_failures=config.max_failed_logins(),
                               lockout=timedelta(minutes=config.lockout_minutes()))
    except SQLAlchemyError as exc:  # the database busy past the wait: the server's log keeps the attempt
        LOG.warning("failed login for %r not counted in the database (%s)", tried[0] if tried else "-",
                    db.describe_fault(exc))
        st.error(LOGIN_UNAVAILABLE)
        return
    st.error(LOGIN_FAILED)


def _forget() -> None:
    """End the session's login and drop every filter and cached object of it."""
    for key in list(st.session_state):
        if key not in ("logout", "_authenticator"):
            del st.session_state[key]
    st.session_state["authentication_status"] = None


def logout() -> None:
    """Revoke the session in the database (every copy of the cookie stops working at once),
    have the server clear the cookie in this browser, audit it, and forget the session's state."""
    token, username = st.session_state.get("_session_token"), st.session_state.get("username")
    with engine().begin() as conn:
        sessions.revoke(conn, token, "logout")
        audit.log(conn, username or "-", "logout")
    _forget()
    st.session_state["_cookie_clear_due"] = secrets.token_hex(8)


# Asks the server (``gka_dash.web``) to set or clear the HttpOnly login cookie, which script
# cannot write itself, and reports back once the server has answered. A request lost on the way
# is tried again; a refusal (403: the session is no longer live) is final.
_SERVER_CALL = st.components.v2.component("gka_cookie_call", js="""
export default function ({ data, setStateValue }) {
  if (!data) return;
  let stopped = false;
  const attempt = (left) => fetch(new URL(data.path, window.location.href),
                                  { method: "POST", body: data.body, credentials: "same-origin" })
    .then((answer) => { if (!stopped) setStateValue("answered", data.id); })
    .catch(() => { if (!stopped && left > 0) setTimeout(() => attempt(left - 1), 500); });
  attempt(20);
  return () => { stopped = true; };
}""")


def _cookie_call(job: str, path: str, body: str = "") -> None:
    """Draw the call for a pending cookie job on every run until the server has answered it.

    Drawn in one run only, the call was lost whenever the next run came before the browser had
    mounted it (a quick click after login, a rerun): the login then lasted only as long as the
    tab. Kept on the page until its answer comes back, no rerun timing can lose it.
    """
    pending = st.session_state.get(job)
    if not pending:
        return
    result = _SERVER_CALL(key=f"{job}_call", data={"path": path, "body": body, "id": pending},
                          on_answered_change=lambda: None, height=0)
    if result.get("answered") == pending:
        del st.session_state[job]


def store_login_cookie() -> None:
    """Have the server set the login cookie after a form login, at the end of each page until it
    has. The cookie is HttpOnly, SameSite=Strict, Secure over HTTPS, and lives as long as the
    session."""
    if st.session_state.get("_session_token"):
        _cookie_call("_cookie_due", web.SESSION_PATH, st.session_state["_session_token"])


def clear_login_cookie() -> None:
    """After a logout, on the login page: have the server delete the (revoked) cookie."""
    _cookie_call("_cookie_clear_due", web.LOGOUT_PATH)
