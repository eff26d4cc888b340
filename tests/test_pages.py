"""The app as a user meets it, through streamlit.testing.v1.AppTest on the demo database."""

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gka_dash import demo, queries
from gka_dash.access import users
from gka_dash.schema import audit_log
from gka_dash.scope import Scope
from .test_views import PEER_SENTENCE

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PASSWORDS = {u: pw for u, _, _, pw, _ in demo.DEMO_USERS}


def _app(**query):
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _login(at, username, password=None):
    at.text_input[0].input(username)
    at.text_input[1].input(password or PASSWORDS[username])
    at.button[0].click()
    return at.run()


def _all_text(at) -> str:
    parts = [e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.title]
    parts += [m.label + " " + m.value for m in at.metric] + [str(e.value) for e in at.info]
    parts += [str(e.value) for e in at.error] + [str(e.value) for e in at.warning]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(parts)


def test_before_login_only_the_login_form_is_shown(demo_engine):
    at = _app(gemeente="GM9901")
    assert not at.exception
    assert [t.value for t in at.title] == ["GKA Dashboard Gelijke Kansen"]
    assert not at.metric and not at.dataframe
    assert "Veenhaven" not in _all_text(at)


def test_gemeente_user_sees_the_figures_of_the_query_layer(demo_engine):
    at = _login(_app(), "veenhaven")
    assert not at.exception
    expected = queries.key_figures(demo_engine, Scope.of("GM9901"), "GM9901")
    afstroom = next(f for f in expected if f["key"] == "afstroom_pct")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Afstroom in het vo"] == f"{afstroom['value']:.1f} %".replace(".", ",")
    assert at.query_params["gemeente"] == "GM9901"
    assert any("Synthetisch (demo)" in str(i.value) for i in at.info)


def test_link_to_another_gemeente_shows_a_message_and_none_of_its_data(demo_engine):
    at = _login(_app(gemeente="GM9902"), "veenhaven")
    assert not at.exception
    assert any("buiten uw bevoegdheid" in str(e.value) for e in at.error)
    text = PEER_SENTENCE.sub("", _all_text(at))  # peers are named by design (public CBS names)
    assert "Dijkstede" not in text
    assert at.query_params["gemeente"] == "GM9901"
    assert at.selectbox(key="filter_gemeente").options == ["Veenhaven (GM9901)"]


def test_wrong_password_is_refused_and_audited(demo_engine):
    at = _login(_app(), "veenhaven", "niet-het-goede-wachtwoord")
    assert any("Inloggen mislukt" in str(e.value) for e in at.error)
    assert not at.metric
    with demo_engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action).where(audit_log.c.username == "veenhaven")).scalars().all()
    assert "login_failed" in actions


def test_account_locks_after_repeated_failures(demo_engine, monkeypatch):
    monkeypatch.setenv("GKA_MAX_FAILED_LOGINS", "3")
    at = _app()
    for _ in range(3):
        at = _login(at, "waldersum", "fout-fout-fout-fout")
    at = _login(at, "waldersum")  # the right password, too late
    assert any("Inloggen mislukt" in str(e.value) for e in at.error)  # the same words as any failure
    assert not at.metric and "_session_token" not in at.session_state
    with demo_engine.connect() as conn:  # locked for this origin (a test run has none: "-")
        found = users.get_user(conn, "waldersum")
        assert users.locked_for(conn, found, "-", max_failures=3, lockout=timedelta(minutes=15))
