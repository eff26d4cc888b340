"""The login gate: our own forms, streamlit-authenticator checking the password against the database,
the audit of logins, and the rules a deployment must meet before any form is shown."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit_authenticator.controllers import AuthenticationController
from streamlit_authenticator.utilities import Validator

from .. import audit, config, db, demo, web
from ..access import auth, oidc, sessions, users
from ..access.users import User
from .chrome import SYNTHETIC_NOTE, database_unreachable
from . import second_step
from .database import engine


def cookie_key() -> str | None:
    return auth.cookie_key(engine())


class PasswordRule(Validator):
    """The dashboard's rule (at least 12 characters) instead of the library's 8-20 with symbols."""

    def validate_password(self, password: str) -> bool:
        return len(password) >= users.MIN_PASSWORD_LENGTH


def client_origin() -> str:
    """Where this browser connects from: the client address, as our own proxy passes it on
    (the last ``X-Forwarded-For`` hop, the one nginx appended, believed only when the process runs
    behind our proxy, ``GKA_BEHIND_PROXY``, and the request comes from this machine), for the
    audit log and for a lock per account and origin."""
    return web.client_address(st.context.ip_address, st.context.headers.get("X-Forwarded-For"))


def password_checker() -> AuthenticationController:
    """streamlit-authenticator's password check, with credentials read from the database for
    this origin at the moment of the check (an account added, removed or locked counts at once).

    Only the library's controller is used, never its ``Authenticate`` widget: that one reads the
    library's own signed cookie on every run and logs in whoever brings one, without a password,
    lockout or revocation (issue #23). Our forms call the check; only a server-side session
    (:mod:`gka_dash.access.sessions`) authenticates a request.
    """
    with engine().connect() as conn:
        found = auth.credentials(conn, client_origin())
    return AuthenticationController(found, PasswordRule(), auto_hash=False)


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
    opens a session (see :mod:`gka_dash.access.sessions`).
    """
    audit.ORIGIN.set(client_origin())  # every audit line of this run says where it came from
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
    if user is not None:
        _seen(token)
    if user is None or user.locked():
        if "_session_token" in st.session_state:  # logged in until now: end it, filters and all
            _forget()
        return None  # a stale cookie alone: show the form, and leave what is typed in it alone
    st.session_state.update({"_session_token": token, "authentication_status": True, "username": user.username,
                             "name": user.name})
    return user


def session_token() -> str | None:
    """This browser session's login token (to mark "deze sessie" in the session list)."""
    return st.session_state.get("_session_token")


def _seen(token: str) -> None:
    """This run is a click: the idle timeout starts again. Skipped (not failed) when the
    database is busy: the session then ends at most a few seconds early."""
    try:
        with engine().begin() as conn, db.brief_wait(conn):
            sessions.touch(conn, token)
    except SQLAlchemyError:
        pass


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
    if notice := st.session_state.pop("_login_notice", None):
        st.error(notice)
    if leave := st.session_state.pop("_provider_logout", None):  # end the session at the provider too
        _NAVIGATE(key="provider_logout", data={"href": leave}, height=0)
    refused = oidc.REFUSALS.get(st.query_params.get(web.OIDC_PARAM, ""))
    if refused:
        st.error(refused)
    waiting = second_step.pending()
    if waiting:  # the password was right: now the code (or the enrolment), and only then a session
        second_step.show(waiting, key=cookie_key(), attempt=_attempt_allowed, failed=_record_failure,
                         start=_start_session)
        return
    organisation_buttons()
    with st.form("login"):
        st.subheader("Inloggen")
        username = st.text_input("Gebruikersnaam", autocomplete="username")
        password = st.text_input("Wachtwoord", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Inloggen")
    if submitted:
        name = username.strip().lower()
        if _attempt_allowed(name) and password and password_checker().login(name, password):
            if second_step.needed(name):
                second_step.remember(name)
                st.rerun()
            _start_session(name)
        else:
            _record_failure(name)
    if db.is_demo(engine()):
        st.info(SYNTHETIC_NOTE + "\n\nDemo-accounts: " + "; ".join(
            f"`{u}` / `{pw}` ({role}{' ' + ', '.join(g) if g else ''})"
            for u, role, g, pw, _ in demo.DEMO_USERS))
    clear_login_cookie()  # last on the page: while it waits for its answer it shifts nothing


def _lock_policy() -> dict:
    return {"max_failures": config.max_failed_logins(), "lockout": timedelta(minutes=config.lockout_minutes())}


def _attempt_allowed(username: str, what: str = "login") -> bool:
    """Count this attempt before the password is checked (users.begin_attempt); False when the
    account is locked for this origin, unknown, or the count cannot be written."""
    st.session_state["_attempt_counted"] = False
    if not username:
        return False
    try:
        with engine().begin() as conn:
            allowed = users.begin_attempt(conn, username, client_origin(), what=what, **_lock_policy())
    except SQLAlchemyError as exc:
        LOG.warning("attempt for %r not counted in the database (%s)", username, db.describe_fault(exc))
        st.session_state["_attempt_counted"] = None  # the database is busy or down: no login now
        return False
    st.session_state["_attempt_counted"] = allowed
    return allowed


def _start_session(username: str) -> None:
    """The password was right: audit the login and open a server-side session, in one
    transaction. If that cannot be written (the database busy with an import past its wait,
    or down) there is no login: an unaudited login is no login (fail closed)."""
    try:
        with engine().begin() as conn:
            users.record_login(conn, username, True, origin=client_origin(), **_lock_policy())
            token = sessions.create(conn, username, origin=client_origin())
            ticket = sessions.ticket(conn, token, cookie_key())
    except SQLAlchemyError as exc:
        LOG.warning("login of %r refused: the audit could not be written (%s)", username, db.describe_fault(exc))
        st.error(LOGIN_UNAVAILABLE)
        return
    st.session_state.update({"_session_token": token, "_cookie_ticket": ticket, "authentication_status": True,
                             "username": username})
    st.session_state.pop("_cookie_clear_due", None)  # the new cookie replaces the old one anyway
    st.session_state["_cookie_due"] = secrets.token_hex(8)
    st.rerun()


def _record_failure(username: str, what: str = "login") -> None:
    """Count the failure against the typed account and this origin; an unknown name is audited
    as such and costs the same bcrypt time, and every failure gets the same words, so neither
    the answer nor its timing tells which usernames exist or are locked. A wrong second-factor
    code counts the same (``what``), and a lock it causes ends the second step."""
    counted = st.session_state.pop("_attempt_counted", False)
    if counted is None:
        st.error(LOGIN_UNAVAILABLE)
        return
    if not counted:  # unknown, locked or empty: the same bcrypt time as a real check
        auth.spend_password_check()
    try:
        with engine().begin() as conn:
            if counted:
                users.record_login(conn, username, False, origin=client_origin(), counted=True, what=what,
                                   **_lock_policy())
            locked = what != "login" and users.locked_for(conn, users.get_user(conn, username), client_origin(),
                                                          **_lock_policy())
    except SQLAlchemyError as exc:  # the database busy past the wait: the server's log keeps the attempt
        LOG.warning("failed login for %r not counted in the database (%s)", username or "-", db.describe_fault(exc))
        st.error(LOGIN_UNAVAILABLE)
        return
    if what == "login":
        st.error(LOGIN_FAILED)
        return
    if locked:  # back to the start, with the same words as any failed login
        second_step.forget()
        st.session_state["_login_notice"] = LOGIN_FAILED
        st.rerun()
    st.error(second_step.CODE_FAILED)


def change_password(user: User, current: str, new: str, repeat: str) -> str | None:
    """Change a logged-in user's password after checking the current one; returns the error to
    show, or None. A wrong current password counts towards the lock exactly like a failed login
    (a stolen session must not become a way to guess the password), and a lock it causes ends
    this session."""
    origin = client_origin()
    allowed = _attempt_allowed(user.username, "password_change")
    checker = password_checker()
    if not allowed or not checker.authentication_model.check_credentials(user.username, current):
        with engine().begin() as conn:
            if allowed:
                users.record_login(conn, user.username, False, origin=origin, what="password_change", counted=True,
                                   **_lock_policy())
            locked = users.locked_for(conn, users.get_user(conn, user.username), origin, **_lock_policy())
        if locked:
            logout()
            st.rerun()
        return "Het huidige wachtwoord klopt niet."
    try:
        checker.reset_password(user.username, current, new, repeat)
    except Exception as exc:  # the library's ResetError: empty, not repeated, the same, too short
        return {"No new password provided": "Vul een nieuw wachtwoord in.",
                "Passwords do not match": "De twee nieuwe wachtwoorden verschillen.",
                "New and current passwords are the same": "Het nieuwe wachtwoord is gelijk aan het huidige.",
                }.get(str(exc), f"Het nieuwe wachtwoord moet minstens {users.MIN_PASSWORD_LENGTH} tekens hebben.")
    new_hash = checker.authentication_model.credentials["usernames"][user.username]["password"]
    with engine().begin() as conn:
        if sessions.username(conn, st.session_state.get("_session_token")) != user.username:
            return "Uw sessie is beëindigd; log opnieuw in."  # revoked while the check ran
        users.record_login(conn, user.username, True, origin=origin, what="password_check", **_lock_policy())
        users.store_password_hash(conn, user.username, new_hash, by=user.username)
    return None


def _forget() -> None:
    """End the session's login and drop every filter and cached object of it."""
    for key in list(st.session_state):
        if key != "logout":
            del st.session_state[key]
    st.session_state["authentication_status"] = None


def logout() -> None:
    """Revoke the session in the database (every copy of the cookie stops working at once),
    have the server clear the cookie in this browser, audit it, and forget the session's state.
    A login through the organisation's provider is ended there too, where it offers that."""
    token, username = st.session_state.get("_session_token"), st.session_state.get("username")
    with engine().begin() as conn:
        via = sessions.revoke(conn, token, "logout")
        audit.log(conn, username or "-", "logout")
    _forget()
    st.session_state["_cookie_clear_due"] = secrets.token_hex(8)
    if via is not None:
        address = oidc.end_session_address(*via, after=_site() + "/")
        if address:
            st.session_state["_provider_logout"] = address


def _site() -> str:
    """This app's origin as the browser addressed it (or the configured public origin)."""
    parts = urlsplit(st.context.url or "")
    return config.public_origin() or f"{parts.scheme}://{parts.netloc}"


def organisation_buttons() -> None:
    """One button per configured identity provider: to it, and back to the page this link asked."""
    found = oidc.providers()
    if not found:
        return
    st.subheader("Inloggen met uw organisatie-account")
    asked = urlsplit(st.context.url or "").path or "/"
    kept = {k: v for k, v in st.query_params.items() if k != web.OIDC_PARAM}
    back = asked + ("?" + urlencode(kept) if kept else "")
    for provider in found.values():
        _PROVIDER_LINK(key=f"oidc_{provider.key}", data={
            "href": f"{web.OIDC_START}?{urlencode({'aanbieder': provider.key, 'terug': back})}",
            "label": f"Inloggen met {provider.label}"})
    st.caption("Of met een account van dit dashboard:")


# A real link (a Streamlit button cannot navigate, and Markdown links open a new tab): the login
# at the provider happens in this tab. The label is set as text, never as markup.
# Styled inline: white on #0b5394 is 8,2:1, and the focus ring stays the browser's.
_PROVIDER_LINK = st.components.v2.component("gka_provider_link", js="""
export default function ({ data, parentElement }) {
  const link = document.createElement("a");
  link.style.cssText = "display:inline-block;padding:0.5rem 1rem;border-radius:0.5rem;background:#0b5394;" +
                       "color:#ffffff;text-decoration:none;font-weight:600;font-family:inherit";
  link.href = data.href;
  link.textContent = data.label;
  parentElement.replaceChildren(link);
}""")

_NAVIGATE = st.components.v2.component("gka_navigate", js="""
export default function ({ data }) { if (data && data.href) window.location.assign(data.href); }""")


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
    has. The page carries only a one-time ticket that the server exchanges for the cookie within
    two minutes (:func:`sessions.redeem`): the session's token itself never passes through the
    page's script. The cookie is HttpOnly, SameSite=Strict, Secure over HTTPS, and lives as long
    as the session."""
    if st.session_state.get("_cookie_ticket"):
        _cookie_call("_cookie_due", web.SESSION_PATH, st.session_state["_cookie_ticket"])


def clear_login_cookie() -> None:
    """After a logout, on the login page: have the server delete the (revoked) cookie."""
    _cookie_call("_cookie_clear_due", web.LOGOUT_PATH)
