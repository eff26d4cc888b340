"""The login's second step (issue #26): after the right password, a code from the authenticator
app or a recovery code; for an account whose role requires a second factor and has none yet,
enrolment by QR code first. Only then does a session exist. The password step is remembered in
this browser session's server-side state for five minutes, never in the page."""

from __future__ import annotations

import time

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from ..errors import AuthError

from .. import db
from ..access import users
from ..access import second_factor
from .database import engine

PENDING = "_password_ok"
WAIT_SECONDS = 300
CODE_FAILED = "Die code klopt niet. Na herhaalde mislukte pogingen wordt het account tijdelijk geblokkeerd."
BLOCKED = ("De tweede factor van dit account is geblokkeerd na te veel onjuiste codes. Vraag een andere beheerder "
           "om hem opnieuw in te stellen.")


def needed(username: str) -> bool:
    """Whether this account logs in with a second factor: it has one, or its role requires it.
    The synthetic demo asks none: its accounts and passwords are published on its login page."""
    if db.is_demo(engine()):
        return False
    with engine().connect() as conn:
        found = users.get_user(conn, username)
        return found is not None and (second_factor.enrolled(conn, username) or second_factor.required(found.role))


def remember(username: str) -> None:
    st.session_state[PENDING] = {"username": username, "at": time.monotonic()}
    st.session_state.pop("_enrol_address", None)
    st.session_state.pop("_recovery_codes", None)


def pending() -> str | None:
    found = st.session_state.get(PENDING)
    if found and time.monotonic() - found["at"] < WAIT_SECONDS:
        return found["username"]
    forget()
    return None


def forget() -> None:
    for key in (PENDING, "_enrol_address", "_recovery_codes"):
        st.session_state.pop(key, None)


def show(username: str, *, key: str, attempt, failed, start) -> None:
    """The second step for ``username``; ``attempt(name, what)`` counts a try before the check,
    ``failed(name, what)`` records a wrong one, ``start(name)`` opens the session."""
    if st.session_state.get("_recovery_codes"):
        _codes_once(username, start)
        return
    with engine().connect() as conn:
        enrolled = second_factor.enrolled(conn, username)
    if enrolled:
        with st.form("second_factor"):
            st.subheader("Tweede stap")
            code = st.text_input("Code uit de authenticator-app (of een herstelcode)", autocomplete="one-time-code")
            submitted = st.form_submit_button("Bevestigen")
        if submitted:
            _try(username, lambda conn: second_factor.check(conn, username, code, key), attempt, failed, start)
    else:
        _enrol(username, key, attempt, failed)
    if st.button("Annuleren"):
        forget()
        st.rerun()


def _try(username, check, attempt, failed, start) -> None:
    if not attempt(username, "second_factor"):
        failed(username, "second_factor")
        return
    try:
        with engine().begin() as conn:
            ok = check(conn)
    except SQLAlchemyError:
        ok = None
    except AuthError:  # blocked after too many wrong codes: only another beheerder's reset helps
        forget()
        st.session_state["_login_notice"] = BLOCKED
        st.rerun()
    if ok:
        forget()
        start(username)
    else:
        failed(username, "second_factor")


def _enrol(username: str, key: str, attempt, failed) -> None:
    st.subheader("Tweede factor instellen")
    st.markdown("Uw account vraagt bij het inloggen ook een code uit een authenticator-app (bijvoorbeeld de app "
                "van uw organisatie, Microsoft of Google Authenticator, of FreeOTP). Scan de QR-code met de app en "
                "vul de code in die de app toont.")
    if "_enrol_address" not in st.session_state:
        with engine().begin() as conn:
            st.session_state["_enrol_address"] = second_factor.begin(conn, username, key)
    address = st.session_state["_enrol_address"]
    st.image(second_factor.qr_svg(address), width=220, alt="QR-code voor de authenticator-app")
    st.markdown("Kan de app niet scannen? Typ deze sleutel in:")
    st.code(" ".join(second_factor.secret_of(address)[i:i + 4] for i in range(0, 32, 4)), language=None)
    with st.form("enrol"):
        code = st.text_input("Code uit de app", autocomplete="one-time-code")
        submitted = st.form_submit_button("Koppelen")
    if submitted:
        if not attempt(username, "second_factor"):
            failed(username, "second_factor")
            return
        with engine().begin() as conn:
            codes = second_factor.confirm(conn, username, code, key)
        if codes is None:
            failed(username, "second_factor")
            return
        st.session_state["_recovery_codes"] = codes
        st.rerun()


def _codes_once(username: str, start) -> None:
    st.subheader("Uw herstelcodes")
    st.markdown("Met elk van deze codes kunt u één keer inloggen als u uw telefoon kwijt bent. Bewaar ze op een "
                "veilige plek; ze worden nu één keer getoond.")
    st.code("\n".join(st.session_state["_recovery_codes"]), language=None)
    if st.button("Ik heb de herstelcodes bewaard", type="primary"):
        forget()
        start(username)
