"""The second factor (issue #26): TOTP codes from an authenticator app and recovery codes, with
the server's clock set by the test."""

from datetime import timedelta

import pyotp
import pytest

from gka_dash import audit
from gka_dash.access import sessions, users
from gka_dash.access import second_factor
from gka_dash.errors import AuthError

from .conftest import raw, snapshot

KEY = "een-eigen-sleutel-van-minstens-32-tekens-lang"
PASSWORD = "een-lang-wachtwoord"


@pytest.fixture
def clock(monkeypatch):
    state = {"at": audit.now().replace(microsecond=0)}
    monkeypatch.setattr(audit, "now", lambda: state["at"])
    return state


@pytest.fixture
def chef(engine):
    from gka_dash.importers.open_data import import_open_data
    import_open_data(engine, raw("apcg/apcg_pc4_LA2014_LA2011-2012.csv"))  # real data: no demo is built here
    with engine.begin() as conn:
        users.add_user(conn, "chef", role="beheerder", password=PASSWORD)
        users.add_user(conn, "tweede", role="beheerder", password=PASSWORD)
    return engine


def _app(engine, username="chef"):
    """Enrol as a person does: the app reads the secret from the QR code's address."""
    with engine.begin() as conn:
        address = second_factor.begin(conn, username, KEY)
    return pyotp.TOTP(second_factor.secret_of(address))


def _code(app, clock, steps=0):
    return app.at(clock["at"].timestamp() + steps * second_factor.STEP)


def test_enrolment_needs_a_code_from_the_app_and_gives_ten_recovery_codes_once(chef, clock):
    app = _app(chef)
    with chef.begin() as conn:
        assert not second_factor.enrolled(conn, "chef")
        assert second_factor.confirm(conn, "chef", "000000" if _code(app, clock) != "000000" else "111111", KEY) is None
        codes = second_factor.confirm(conn, "chef", _code(app, clock), KEY)
        assert second_factor.enrolled(conn, "chef")
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = repr(snapshot(chef))
    assert app.secret not in stored and not any(c in stored for c in codes)  # sealed and hashed


def test_a_code_counts_once_within_its_step_and_the_neighbours(chef, clock):
    app = _app(chef)
    with chef.begin() as conn:
        second_factor.confirm(conn, "chef", _code(app, clock), KEY)
    clock["at"] += timedelta(seconds=30)
    with chef.begin() as conn:
        code = _code(app, clock)
        assert second_factor.check(conn, "chef", code, KEY) == "app"
        assert second_factor.check(conn, "chef", code, KEY) is None  # replayed
    clock["at"] += timedelta(seconds=60)
    with chef.begin() as conn:
        assert second_factor.check(conn, "chef", _code(app, clock, steps=-1), KEY) == "app"  # a slow phone
        assert second_factor.check(conn, "chef", _code(app, clock, steps=-3), KEY) is None  # too old
        assert second_factor.check(conn, "chef", "12345", KEY) is None and second_factor.check(conn, "chef", "", KEY) is None
    with chef.begin() as conn:  # another server key opens no secret
        assert second_factor.check(conn, "chef", _code(app, clock, steps=1), "een-andere-sleutel-van-32-tekens-lang!") is None


def test_ten_wrong_codes_in_a_row_block_the_second_factor_until_another_beheerder_resets_it(chef, clock):
    """The lock on wrong attempts expires; this does not: a patient guesser with the password
    would otherwise get about a thousand guesses a day."""
    app = _app(chef)
    with chef.begin() as conn:
        second_factor.confirm(conn, "chef", _code(app, clock), KEY)
    for _ in range(second_factor.MAX_WRONG - 1):
        with chef.begin() as conn:
            assert second_factor.check(conn, "chef", "000000" if _code(app, clock, 1) != "000000" else "111111", KEY) is None
    clock["at"] += timedelta(seconds=30)
    with chef.begin() as conn:  # a right code resets the count
        assert second_factor.check(conn, "chef", _code(app, clock), KEY) == "app"
    for _ in range(second_factor.MAX_WRONG):
        with chef.begin() as conn:
            second_factor.check(conn, "chef", "999999" if _code(app, clock, 1) != "999999" else "888888", KEY)
    clock["at"] += timedelta(seconds=30)
    with chef.begin() as conn, pytest.raises(AuthError):  # now even the right code is refused
        second_factor.check(conn, "chef", _code(app, clock), KEY)
    assert "second_factor_blocked" in set(audit.actions(chef))
    with chef.begin() as conn:
        second_factor.reset(conn, "chef", by="tweede", by_role="beheerder")
        assert not second_factor.enrolled(conn, "chef")


def test_a_recovery_code_works_once_and_is_audited(chef, clock):
    app = _app(chef)
    with chef.begin() as conn:
        codes = second_factor.confirm(conn, "chef", _code(app, clock), KEY)
        assert second_factor.check(conn, "chef", codes[3].lower(), KEY) == "herstelcode"  # typed in lower case
        assert second_factor.check(conn, "chef", codes[3], KEY) is None
    assert "recovery_code_used" in {a for a in audit.actions(chef)}


def test_only_another_beheerder_resets_a_second_factor_and_the_sessions_end(chef, clock):
    app = _app(chef)
    with chef.begin() as conn:
        second_factor.confirm(conn, "chef", _code(app, clock), KEY)
        token = sessions.create(conn, "chef", timedelta(hours=1))
        with pytest.raises(AuthError):
            second_factor.reset(conn, "chef", by="chef", by_role="beheerder")
        with pytest.raises(AuthError):
            second_factor.reset(conn, "chef", by="regio", by_role="regio")
        second_factor.reset(conn, "chef", by="tweede", by_role="beheerder")
        assert not second_factor.enrolled(conn, "chef") and sessions.username(conn, token) is None
    assert "second_factor_reset" in set(audit.actions(chef))


def _login(monkeypatch, username, password=PASSWORD):
    from streamlit.testing.v1 import AppTest
    from .test_views import APP
    monkeypatch.setenv("GKA_COOKIE_KEY", KEY)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


def _field(at, start):
    return next(t for t in at.text_input if t.label.startswith(start))


def test_a_beheerder_enrols_at_the_first_login_and_reaches_beheer_only_after_it(chef, clock, monkeypatch):
    at = _login(monkeypatch, "chef")
    assert [s.value for s in at.subheader] == ["Tweede factor instellen"] and at.get("image")  # the QR code
    at.switch_page("pages/beheer.py").run()  # no session yet: no way round the second step
    assert "Beheer" not in [t.value for t in at.title] and not at.tabs
    app = pyotp.TOTP(second_factor.secret_of(at.session_state["_enrol_address"]))
    _field(at, "Code uit de app").input("000000" if _code(app, clock) != "000000" else "111111")
    next(b for b in at.button if b.label == "Koppelen").click().run()
    assert any("klopt niet" in e.value for e in at.error)
    _field(at, "Code uit de app").input(_code(app, clock))
    next(b for b in at.button if b.label == "Koppelen").click().run()
    codes = at.code[0].value.split("\n")
    assert len(codes) == 10
    next(b for b in at.button if b.label == "Ik heb de herstelcodes bewaard").click().run()
    at.switch_page("pages/beheer.py").run()
    assert any(t.label == "Toegangsreview" for t in at.tabs)
    review = next(df.value for df in at.dataframe if "Tweede factor" in df.value.columns).set_index("Gebruikersnaam")
    assert review.loc["chef", "Tweede factor"].startswith("app") and review.loc["tweede", "Tweede factor"] == "geen"
    # The next login asks for a code; wrong codes count towards the lock like wrong passwords.
    clock["at"] += timedelta(minutes=1)
    at = _login(monkeypatch, "chef")
    assert [s.value for s in at.subheader] == ["Tweede stap"]
    for _ in range(5):
        _field(at, "Code uit de authenticator-app").input("123456")
        at.button[0].click().run()
        if [s.value for s in at.subheader] == ["Inloggen"]:
            break  # the password attempt and four codes: the fifth failure of this origin
    assert any("Inloggen mislukt" in e.value for e in at.error)  # locked for this origin: back to the start
    assert [s.value for s in at.subheader] == ["Inloggen"]
    monkeypatch.setenv("GKA_LOCKOUT_MINUTES", "15")
    clock["at"] += timedelta(minutes=16)
    at = _login(monkeypatch, "chef")
    _field(at, "Code uit de authenticator-app").input(codes[0])  # the phone is lost: a recovery code
    at.button[0].click().run()
    at.switch_page("pages/beheer.py").run()
    assert any(t.label == "Toegangsreview" for t in at.tabs)
