"""Server-side sessions (issue #14): a login cookie is a token the database can take back."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gka_dash import sessions, users
from gka_dash.schema import login_session
from gka_dash.schema import user as user_table

from .conftest import snapshot

PASSWORD = "een-lang-wachtwoord"
DAY = timedelta(days=1)


@pytest.fixture
def anna(engine):
    with engine.begin() as conn:
        users.add_user(conn, "anna", role="gemeente", gemeenten=["GM0599"], password=PASSWORD)
    return engine


def _lock_everywhere(conn, username="anna"):
    for origin in range(users.GLOBAL_LOCK_FACTOR):
        for _ in range(5):
            users.record_login(conn, username, False, origin=f"10.0.0.{origin}", max_failures=5,
                               lockout=timedelta(minutes=15))
    assert users.get_user(conn, username).locked()


def test_a_stranger_who_fails_a_login_does_not_end_the_accounts_sessions(anna):
    token = _open(anna)
    with anna.begin() as conn:
        for _ in range(30):
            users.record_login(conn, "anna", False, origin="203.0.113.9", max_failures=5,
                               lockout=timedelta(minutes=15))
    assert _who(anna, token) == "anna"


def _open(engine, username="anna", lifetime=DAY) -> str:
    with engine.begin() as conn:
        return sessions.create(conn, username, lifetime)


def _who(engine, token):
    with engine.connect() as conn:
        return sessions.username(conn, token)


def test_a_token_opens_its_session_and_the_database_keeps_only_its_hash(anna):
    token = _open(anna)
    assert _who(anna, token) == "anna"
    assert _who(anna, token + "x") is None and _who(anna, "") is None and _who(anna, None) is None
    assert token not in repr(snapshot(anna))


def test_logout_revokes_only_that_session(anna):
    first, second = _open(anna), _open(anna)
    with anna.begin() as conn:
        sessions.revoke(conn, first, "logout")
    assert _who(anna, first) is None and _who(anna, second) == "anna"


def test_expiry_is_the_servers_not_the_cookies(anna):
    token = _open(anna)
    with anna.begin() as conn:
        conn.execute(update(login_session).values(expires_at=login_session.c.created_at))
    assert _who(anna, token) is None


@pytest.mark.parametrize("event", ["password reset", "password changed", "role or scope changed", "account removed",
                                   "locked"])
def test_every_change_to_an_account_ends_its_sessions(anna, event):
    token = _open(anna)
    with anna.begin() as conn:
        if event == "password reset":
            users.reset_password(conn, "anna", "een-nieuw-wachtwoord")
        elif event == "password changed":
            users.store_password_hash(conn, "anna", users.hash_password("een-nieuw-wachtwoord"), by="anna")
        elif event == "role or scope changed":
            users.set_role(conn, "anna", role="gemeente", gemeenten=["GM0363"])
        elif event == "account removed":
            users.remove_user(conn, "anna")
        else:  # locked everywhere: failures from several origins
            _lock_everywhere(conn)
    assert _who(anna, token) is None
    with anna.connect() as conn:
        why = conn.execute(select(login_session.c.revoked_why)).scalar_one()
    assert why == event


def test_a_later_unlock_does_not_bring_an_old_session_back(anna):
    token = _open(anna)
    with anna.begin() as conn:
        _lock_everywhere(conn)
        users.unlock(conn, "anna")
        conn.execute(update(user_table).values(failed_logins=0))
    assert _who(anna, token) is None
