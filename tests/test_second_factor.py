"""The second factor (issue #26): TOTP codes from an authenticator app and recovery codes, with
the server's clock set by the test."""

from datetime import timedelta

import pyotp
import pytest

from gka_dash import audit, second_factor, sessions, users
from gka_dash.errors import AuthError

from .conftest import snapshot

KEY = "een-eigen-sleutel-van-minstens-32-tekens-lang"
PASSWORD = "een-lang-wachtwoord"


@pytest.fixture
def clock(monkeypatch):
    state = {"at": audit.now().replace(microsecond=0)}
    monkeypatch.setattr(audit, "now", lambda: state["at"])
    return state


@pytest.fixture
def chef(engine):
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
