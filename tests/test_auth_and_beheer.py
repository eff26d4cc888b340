"""The closed environment: refusal to open an unsafe deployment, the Beheer page, audit."""

import pytest
from sqlalchemy import delete, select
from streamlit.testing.v1 import AppTest

from gka_dash import audit, db
from gka_dash.access import users
from gka_dash.schema import audit_log, user as user_table

from .test_views import APP, open_page

KEY = "een-eigen-sleutel-van-minstens-32-tekens-lang"


def _as_real_deployment(engine):
    with engine.begin() as conn:
        db.set_demo(conn, False)


def _first_screen():
    return AppTest.from_file(APP, default_timeout=60).run()


def test_a_real_database_refuses_to_open_without_a_cookie_key(demo_engine, monkeypatch):
    _as_real_deployment(demo_engine)
    monkeypatch.delenv("GKA_COOKIE_KEY", raising=False)
    at = _first_screen()
    assert "start niet" in at.error[0].value and "cookie-sleutel" in at.error[0].value
    assert not at.text_input  # not even the login form


def test_a_real_database_refuses_to_open_while_demo_accounts_exist(demo_engine, monkeypatch):
    _as_real_deployment(demo_engine)
    monkeypatch.setenv("GKA_COOKIE_KEY", KEY)
    at = _first_screen()
    assert "demo-accounts (beheer, grootzeestad, regio, veenhaven, waldersum)" in at.error[0].value


def test_a_real_database_with_its_own_key_and_no_demo_accounts_opens_at_the_login(demo_engine, monkeypatch):
    _as_real_deployment(demo_engine)
    monkeypatch.setenv("GKA_COOKIE_KEY", KEY)
    with demo_engine.begin() as conn:
        conn.execute(delete(user_table))
    at = _first_screen()
    assert not at.error and [t.label for t in at.text_input] == ["Gebruikersnaam", "Wachtwoord"]
    assert not any("Demo-accounts" in str(i.value) for i in at.info)  # passwords shown on the demo only


def test_beheer_is_refused_to_other_roles(demo_engine):
    at = open_page("pages/beheer.py", "regio")
    assert at.error[0].value == "Deze pagina is alleen voor beheerders."
    assert not at.dataframe


def test_a_beheerder_adds_a_user_who_can_then_log_in(demo_engine):
    at = open_page("pages/beheer.py", "beheer")
    assert {"veenhaven", "waldersum"} <= set(at.dataframe[0].value["gebruiker"])
    inputs = {t.label: t for t in at.text_input}
    inputs["Gebruikersnaam"].input("dijkstede-analist")
    inputs["Naam"].input("Analist Dijkstede")
    inputs["Wachtwoord (minstens 12 tekens)"].input("een-goed-wachtwoord")
    role = next(s for s in at.selectbox if s.label == "Rol")
    role.set_value("gemeente")
    next(m for m in at.multiselect if m.label.startswith("Gemeenten (geen")).set_value(["GM9902"])
    next(b for b in at.button if b.label == "Toevoegen").click()
    at.run()
    assert any("dijkstede-analist toegevoegd" in s.value for s in at.success)
    with demo_engine.connect() as conn:
        added = users.get_user(conn, "dijkstede-analist")
        logged = conn.execute(select(audit_log.c.username, audit_log.c.action).where(
            audit_log.c.action == "user_add")).all()
    assert added.role == "gemeente" and added.gemeenten == ("GM9902",)
    assert ("beheer", "user_add") in logged


def test_a_too_short_password_is_refused_with_the_rule(demo_engine):
    at = open_page("pages/beheer.py", "beheer")
    inputs = {t.label: t for t in at.text_input}
    inputs["Gebruikersnaam"].input("kort")
    inputs["Wachtwoord (minstens 12 tekens)"].input("kort")
    next(m for m in at.multiselect if m.label.startswith("Gemeenten (geen")).set_value(["GM9902"])
    next(b for b in at.button if b.label == "Toevoegen").click()
    at.run()
    assert any("at least 12 characters" in e.value for e in at.error)
    with demo_engine.connect() as conn:
        assert users.get_user(conn, "kort") is None


@pytest.mark.parametrize("action", ["login", "login_failed"])
def test_logins_and_failures_are_audited(demo_engine, action):
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input("veenhaven")
    at.text_input[1].input("demo-veenhaven-2024!" if action == "login" else "fout-fout-fout-fout")
    at.button[0].click()
    at.run()
    with demo_engine.connect() as conn:
        assert conn.execute(select(audit_log.c.action).where(audit_log.c.username == "veenhaven",
                                                             audit_log.c.action == action)).first()


def _attempt(username: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


def test_a_login_opens_a_server_session_and_logout_revokes_it(demo_engine):
    from gka_dash.access import sessions
    from gka_dash.schema import login_session
    at = _attempt("veenhaven", "demo-veenhaven-2024!")
    token = at.session_state["_session_token"]
    with demo_engine.connect() as conn:
        assert sessions.username(conn, token) == "veenhaven"
    at.switch_page("app.py").run()  # AppTest runs a page without app.py once it has one; the sidebar is app.py's
    at.button(key="logout_button").click().run()
    assert [t.label for t in at.text_input][:2] == ["Gebruikersnaam", "Wachtwoord"]
    with demo_engine.connect() as conn:
        assert sessions.username(conn, token) is None
        assert conn.execute(select(login_session.c.revoked_why)).scalars().all() == ["logout"]


def test_unknown_names_wrong_passwords_and_locked_accounts_get_the_same_answer(demo_engine, monkeypatch):
    """And the same work: an unknown name costs a bcrypt check too, so timing tells nothing."""
    from gka_dash.access import auth
    checks = []
    original = auth.bcrypt.checkpw
    monkeypatch.setattr(auth.bcrypt, "checkpw", lambda *a: checks.append(1) or original(*a))
    with demo_engine.begin() as conn:
        for _ in range(5):
            users.record_login(conn, "waldersum", False, max_failures=5, lockout=__import__("datetime").timedelta(minutes=5))
    answers = {}
    for who, password in (("bestaat-niet", "wat-dan-ook-123"), ("veenhaven", "fout-fout-fout-fout"),
                          ("waldersum", "demo-waldersum-2024!")):
        at = _attempt(who, password)
        answers[who] = [e.value for e in at.error]
        assert "_session_token" not in at.session_state
    assert answers["bestaat-niet"] == answers["veenhaven"] == answers["waldersum"] != []
    assert "geblokkeerd" not in answers["veenhaven"][0] or "herhaalde" in answers["veenhaven"][0]
    assert checks  # the unknown name was checked against a hash as well


def test_a_login_while_an_import_holds_the_lock_is_refused_not_let_through_unaudited(demo_engine, monkeypatch):
    import sqlite3
    from gka_dash.schema import login_session
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input("veenhaven")
    at.text_input[1].input("demo-veenhaven-2024!")
    monkeypatch.setenv("GKA_SQLITE_BUSY_SECONDS", "0.2")
    demo_engine.dispose()  # new connections read the shorter wait
    holder = sqlite3.connect(demo_engine.url.database)
    holder.execute("BEGIN IMMEDIATE")  # what an import's transaction holds
    try:
        at.button[0].click().run()
    finally:
        holder.rollback()
        holder.close()
        demo_engine.dispose()
    assert "_session_token" not in at.session_state
    assert any("kan op dit moment niet" in e.value for e in at.error)
    assert not at.exception
    with demo_engine.connect() as conn:
        assert conn.execute(select(login_session)).first() is None


def test_the_access_review_lists_every_account_and_switches_off_the_unused_ones(engine, monkeypatch):
    """BIO2 5.18: who may see what, how they log in, who granted it, the last login; accounts
    unused for the period switched off in one step, their sessions ended, audited."""
    from datetime import timedelta
    from gka_dash import audit
    from gka_dash.access import sessions
    start = audit.now()
    clock = {"at": start}
    monkeypatch.setattr(audit, "now", lambda: clock["at"])
    with engine.begin() as conn:
        users.add_user(conn, "chef", role="beheerder", password="een-lang-wachtwoord", by="cli")
        users.add_user(conn, "anna", role="gemeente", gemeenten=["GM0599"], password="een-lang-wachtwoord", by="chef")
        users.add_user(conn, "bert", role="regio", gemeenten=["GM0599", "GM0363"], password="een-lang-wachtwoord",
                       by="chef")
    clock["at"] = start + timedelta(days=80)
    with engine.begin() as conn:
        users.record_login(conn, "anna", True, max_failures=5, lockout=timedelta(minutes=15), origin="10.1.1.1")
        token = sessions.create(conn, "bert", timedelta(days=1))
    clock["at"] = start + timedelta(days=100)
    with engine.connect() as conn:
        rows = {r["Gebruikersnaam"]: r for r in users.review(conn, 90)}
    assert rows["anna"]["Toegekend door"] == "chef" and rows["anna"]["Bevoegdheid"] == "GM0599"
    assert rows["anna"]["Status"] == "actief" and rows["anna"]["Laatst ingelogd"] != "nooit"
    assert rows["bert"]["Status"] == "ongebruikt (> 90 dagen)" and rows["bert"]["Laatst ingelogd"] == "nooit"
    assert rows["bert"]["Inloggen met"] == "wachtwoord" and rows["bert"]["Tweede factor"] == "geen"
    with engine.begin() as conn:
        assert users.disable_unused(conn, 90, by="chef") == ["bert"]  # chef is unused too, but does it
        assert sessions.username(conn, token) is None
        assert users.get_user(conn, "bert").locked()
        assert "uitgezet" in {r["Gebruikersnaam"]: r for r in users.review(conn, 90)}["bert"]["Status"]
        assert users.record_login(conn, "bert", False, max_failures=5, lockout=timedelta(minutes=15)) is not None
    assert "account uitgezet" in set(audit.entries(engine)["actie"])
    with engine.begin() as conn:
        users.enable(conn, "bert", by="chef")
        assert not users.get_user(conn, "bert").locked()


def test_beheer_shows_the_access_review_with_a_csv_and_switches_off_in_one_click(demo_engine, downloads):
    from datetime import timedelta
    from sqlalchemy import update
    from gka_dash.schema import user as user_table
    with demo_engine.begin() as conn:  # waldersum last logged in half a year ago
        conn.execute(update(user_table).where(user_table.c.username == "waldersum")
                     .values(last_login_at=audit.now() - timedelta(days=180), created_at=audit.now() - timedelta(days=400)))
    at = open_page("pages/beheer.py", "beheer")
    review = next(df.value for df in at.dataframe if "Toegekend door" in df.value.columns)
    assert list(review.columns) == users.REVIEW_COLUMNS
    assert review.set_index("Gebruikersnaam").loc["waldersum", "Status"] == "ongebruikt (> 90 dagen) (demo)"
    assert review.set_index("Gebruikersnaam").loc["beheer", "Status"].startswith("actief")
    switch = next(b for b in at.button if b.label.startswith("Zet 1 ongebruikte account"))
    assert "waldersum" in switch.label
    switch.click().run()
    with demo_engine.connect() as conn:
        assert users.get_user(conn, "waldersum").disabled_at is not None
        assert users.get_user(conn, "veenhaven").disabled_at is None


def test_monitoring_signals_spikes_new_origins_and_unusual_hours_from_the_audit_log(engine):
    """Planted audit lines: a guessing run on one account, a login from an address the account
    never used, a login at 03:00 by an account that logs in at office hours; and a quiet day."""
    from datetime import datetime, timedelta, timezone
    from sqlalchemy import insert
    from gka_dash import monitoring
    noon = datetime(2026, 11, 30, 11, 0, tzinfo=timezone.utc)  # 12:00 in Amsterdam
    lines = []
    for day in range(1, 60):  # two months of ordinary logins from the office
        lines.append((noon - timedelta(days=day), "anna", "login", "10.1.1.1"))
        lines.append((noon - timedelta(days=day), "bert", "login", "10.2.2.2"))
    with engine.begin() as conn:
        conn.execute(insert(audit_log), [{"at": at, "username": u, "action": a, "detail": "", "origin": o,
                                          "result": audit.result_of(a)} for at, u, a, o in lines])
    assert monitoring.signals(engine, at=noon + timedelta(hours=1)) == []
    planted = [(noon + timedelta(minutes=i), "anna", "login_failed", f"198.51.100.{i % 3}") for i in range(12)]
    planted += [(noon + timedelta(hours=2), "anna", "login", "203.0.113.5"),
                (noon - timedelta(hours=9), "bert", "login", "10.2.2.2")]  # 03:00 local
    with engine.begin() as conn:
        conn.execute(insert(audit_log), [{"at": at, "username": u, "action": a, "detail": "", "origin": o,
                                          "result": audit.result_of(a)} for at, u, a, o in planted])
    found = {(s.kind, s.username) for s in monitoring.signals(engine, at=noon + timedelta(hours=3))}
    assert found == {("mislukte logins (account)", "anna"), ("nieuwe herkomst", "anna"), ("ongebruikelijk uur", "bert")}


def test_every_audit_line_says_its_origin_and_result(demo_engine):
    at = open_page("pages/beheer.py", "beheer")
    log = next(df.value for df in at.dataframe if "herkomst" in df.value.columns)
    login = log[log["actie"] == "ingelogd"].iloc[0]
    assert login["resultaat"] == "gelukt" and login["herkomst"] not in ("", None)
    assert list(log.columns) == ["tijd", "gebruiker", "actie", "object", "resultaat", "herkomst"]
