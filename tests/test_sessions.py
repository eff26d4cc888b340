"""Server-side sessions (issue #14): a login cookie is a token the database can take back."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from gka_dash.access import sessions, users
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


class Clock:
    """The server's clock, as the tests set it (``audit.now`` is every module's clock)."""

    def __init__(self, monkeypatch):
        from gka_dash import audit
        self.at = audit.now()
        monkeypatch.setattr(audit, "now", lambda: self.at)

    def advance(self, **delta):
        self.at += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def _click(engine, token):
    with engine.begin() as conn:
        sessions.touch(conn, token)


def test_a_session_ends_after_fifteen_idle_minutes_and_each_click_starts_them_again(anna, clock, monkeypatch):
    monkeypatch.delenv("GKA_IDLE_MINUTES", raising=False)
    token = _open(anna, lifetime=None)
    clock.advance(minutes=14, seconds=50)
    assert _who(anna, token) == "anna"
    _click(anna, token)
    clock.advance(minutes=14, seconds=50)  # 29:40 after the login, 14:50 after the click
    assert _who(anna, token) == "anna"
    clock.advance(seconds=20)
    assert _who(anna, token) is None
    _click(anna, token)  # a click after the end brings nothing back
    assert _who(anna, token) is None


def test_the_idle_timeout_is_configurable(anna, clock, monkeypatch):
    monkeypatch.setenv("GKA_IDLE_MINUTES", "5")
    token = _open(anna, lifetime=None)
    clock.advance(minutes=5)
    assert _who(anna, token) is None


def test_a_busy_session_still_ends_at_its_absolute_lifetime(anna, clock, monkeypatch):
    monkeypatch.delenv("GKA_COOKIE_EXPIRY_DAYS", raising=False)
    monkeypatch.setenv("GKA_SESSION_HOURS", "10")
    token = _open(anna, lifetime=None)
    for _ in range(59):  # a click every ten minutes for 9 h 50 min
        clock.advance(minutes=10)
        _click(anna, token)
        assert _who(anna, token) == "anna"
    clock.advance(minutes=10)
    assert _who(anna, token) is None


def test_the_session_list_shows_live_sessions_and_ends_ones_own_or_for_a_beheerder_anyones(anna, clock):
    with anna.begin() as conn:
        users.add_user(conn, "bert", role="gemeente", gemeenten=["GM0363"], password=PASSWORD)
        users.add_user(conn, "chef", role="beheerder", password=PASSWORD)
        phone = sessions.create(conn, "anna", DAY, origin="198.51.100.7")
        clock.advance(minutes=1)
        laptop = sessions.create(conn, "anna", DAY, origin="203.0.113.20")
        berts = sessions.create(conn, "bert", DAY)
        gone = sessions.create(conn, "anna", DAY)
        sessions.revoke(conn, gone)
    with anna.connect() as conn:
        mine = sessions.active(conn, username="anna", current=laptop)
    assert [(s.origin, s.current) for s in mine] == [("203.0.113.20", True), ("198.51.100.7", False)]
    assert all(len(s.id) == 16 and s.id not in (phone, laptop, sessions.token_hash(phone)) for s in mine)
    with anna.begin() as conn:
        berts_id = sessions.active(conn, username="bert")[0].id
        assert sessions.end(conn, berts_id, by="anna", everyone=False) is None  # not hers to end
        assert sessions.end(conn, mine[1].id, by="anna", everyone=False) == "anna"
    assert _who(anna, phone) is None and _who(anna, laptop) == "anna" and _who(anna, berts) == "bert"
    with anna.begin() as conn:
        assert sessions.end(conn, berts_id, by="chef", everyone=True) == "bert"
    assert _who(anna, berts) is None
    clock.advance(minutes=20)  # idle sessions are no longer listed
    with anna.connect() as conn:
        assert sessions.active(conn) == []


def test_an_idle_page_asks_for_the_login_again_and_the_sessions_page_ends_another_session(demo_engine, clock):
    """The page itself, with the server's clock moved on: 16 idle minutes and the next click shows
    the login form; on Sessies a person ends the session of another browser."""
    from .test_views import open_page
    at = open_page("pages/sessies.py")

    def shown():  # the page's lines as read, without the Markdown escapes of ui.plain
        return " ".join(m.value for m in at.markdown).replace("\\", "")

    assert "(deze sessie)" in shown() and [b.label for b in at.button].count("Beëindig") == 1
    with demo_engine.begin() as conn:
        other = sessions.create(conn, "veenhaven", DAY, origin="192.0.2.44")
    at.run()
    assert "vanaf 192.0.2.44" in shown() and [b.label for b in at.button].count("Beëindig") == 2
    with demo_engine.connect() as conn:
        others = [s for s in sessions.active(conn, username="veenhaven") if s.origin == "192.0.2.44"]
    at.button(key=f"end_{others[0].id}").click().run()
    assert _who(demo_engine, other) is None and "192.0.2.44" not in shown()
    clock.advance(minutes=16)
    at.run()
    assert at.text_input[0].label == "Gebruikersnaam"  # the login form, nothing of the page
    assert "Beëindig" not in [b.label for b in at.button]


def test_a_database_made_before_an_index_gets_it(engine):
    """init_db on an existing database adds indexes defined later, among them the unique
    (provider, subject) that keeps one person of a provider one account."""
    from sqlalchemy import inspect, text

    from gka_dash import db
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ux_user_external"))
        conn.execute(text("DROP INDEX ix_oidc_pending_created"))
    db.init_db(engine)
    found = inspect(engine)
    assert any(i["name"] == "ux_user_external" and i["unique"] for i in found.get_indexes("app_user"))
    assert any(i["name"] == "ix_oidc_pending_created" for i in found.get_indexes("oidc_pending"))


def test_duplicates_from_before_a_unique_index_are_named_and_the_database_still_opens(sqlite_engine, caplog):
    """Two provider accounts of one person, made before the unique index existed: init_db says
    which index it could not make and why, and every command still starts."""
    from sqlalchemy import inspect, insert, text

    from gka_dash import db
    from gka_dash.schema import user as user_table
    with sqlite_engine.begin() as conn:
        conn.execute(text("DROP INDEX ux_user_external"))
        for name in ("anna", "anna-2"):
            conn.execute(insert(user_table).values(
                username=name, name="Anna", email="", password_hash="!", role="gemeente", gemeenten="GM0599",
                demo=False, failed_logins=0, created_at=datetime.now(timezone.utc), login_via="org",
                external_id="a-1"))
    with caplog.at_level("WARNING", logger="gka_dash.db"):
        db.init_db(sqlite_engine)
    assert "ux_user_external" in caplog.text and "users remove" in caplog.text
    assert not any(i["name"] == "ux_user_external" for i in inspect(sqlite_engine).get_indexes("app_user"))
    with sqlite_engine.begin() as conn:
        conn.execute(text("DELETE FROM app_user WHERE username = 'anna-2'"))
    db.init_db(sqlite_engine)  # the duplicate removed: the index is made at the next start
    assert any(i["name"] == "ux_user_external" for i in inspect(sqlite_engine).get_indexes("app_user"))
