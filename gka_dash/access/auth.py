"""What streamlit-authenticator needs from the database, and the rules a deployment must meet
before the app opens (design §7). No Streamlit here; :mod:`gka_dash.ui` wires it up."""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta

import bcrypt
from sqlalchemy import select

from .. import config, db
from . import users
from ..schema import user as user_table

COOKIE_NAME = "gka_dash_sessie"  # the server-side session's token (gka_dash.access.sessions)
# streamlit-authenticator's own cookie (a signed username that logs in without a password) is
# never written and never read: the app draws its own forms and lets the library check only
# passwords. The name stays known so that the tests can forge it and find it ignored.
LIBRARY_COOKIE_NAME = "gka_dash_formulier"
# Used only on the synthetic demo database; a real deployment refuses to start with it.
DEMO_COOKIE_KEY = "demo-sleutel-alleen-voor-synthetische-data"
MIN_COOKIE_KEY_LENGTH = 32


@functools.lru_cache(maxsize=4)
def unusable_hash(rounds: int) -> str:
    """The bcrypt hash of random bytes nobody knows, at the cost of a real one: a locked account
    stays in the credentials but no password matches it, and checking it takes as long as
    checking a real password (a fast refusal would tell that the account is locked)."""
    return bcrypt.hashpw(secrets.token_bytes(32), bcrypt.gensalt(rounds)).decode()


def spend_password_check() -> None:
    """Spend the time of one password check, for a username that does not exist: without it
    the answer comes ~250 ms sooner for unknown names than for real ones."""
    bcrypt.checkpw(secrets.token_bytes(16), unusable_hash(config.bcrypt_rounds()).encode())


def credentials(conn, origin: str) -> dict:
    """The credentials dict of streamlit-authenticator, read from the user table on every check,
    so a new, removed or locked account takes effect at once. An account locked for this origin
    (or everywhere) keeps an entry whose hash no password matches, at a real hash's cost."""
    entries = {}
    for found in users.list_users(conn):
        locked = users.locked_for(conn, found, origin, max_failures=config.max_failed_logins(),
                                  lockout=timedelta(minutes=config.lockout_minutes()))
        entries[found.username] = {
            "name": found.name, "email": found.email or f"{found.username}@gka.invalid",
            # an account of an identity provider has no password here, whatever its row holds
            "password": (unusable_hash(config.bcrypt_rounds()) if locked or found.login_via
                         else users.password_hash(conn, found.username)),
            "roles": [found.role],
        }
    return {"usernames": entries}


def cookie_key(engine) -> str | None:
    """The server's secret (GKA_COOKIE_KEY or [auth] cookie_key): it seals the one-time ticket
    with which the page has the server set the login cookie; the demo database alone may use the
    published demo key."""
    return config.auth_setting("cookie_key", "GKA_COOKIE_KEY") or (DEMO_COOKIE_KEY if db.is_demo(engine) else None)


def deployment_problems(engine, cookie_key: str | None) -> list[str]:
    """Reasons the app must not open on this database; empty when it may.

    The demo database may use the demo key and demo accounts. A database with real data may
    not: a known cookie key lets anyone forge a login cookie, a demo password is printed in
    the README.
    """
    if db.is_demo(engine):
        return []
    problems = []
    if not cookie_key or cookie_key == DEMO_COOKIE_KEY:
        problems.append("er is geen eigen cookie-sleutel ingesteld (GKA_COOKIE_KEY of [auth] cookie_key "
                        "in .streamlit/secrets.toml)")
    elif len(cookie_key) < MIN_COOKIE_KEY_LENGTH:
        problems.append(f"de cookie-sleutel is korter dan {MIN_COOKIE_KEY_LENGTH} tekens")
    with engine.connect() as conn:
        demo_accounts = conn.execute(select(user_table.c.username).where(user_table.c.demo.is_(True))
                                     .order_by(user_table.c.username)).scalars().all()
    if demo_accounts:
        problems.append("er bestaan nog demo-accounts (" + ", ".join(demo_accounts) + "); verwijder ze met "
                        "`python -m gka_dash users remove`")
    return problems
