import io
import json

import pytest

from gka_dash.access import users
from gka_dash.cli import main


def _run(argv, capsys, monkeypatch, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_user_lifecycle_through_the_cli(engine, capsys, monkeypatch):
    code, out, _ = _run(["users", "add", "Anna", "--role", "regio", "--gemeente", "GM0363",
                         "--gemeente", "599", "--password-stdin"], capsys, monkeypatch, "een-lang-wachtwoord\n")
    assert code == 0 and "GM0363 GM0599" in out
    with engine.connect() as conn:
        anna = users.get_user(conn, "anna")
        assert users.verify_password("een-lang-wachtwoord", users.password_hash(conn, "anna"))
    assert anna.scope.allows("GM0599") and not anna.scope.allows("GM0344")
    code, out, _ = _run(["users", "list"], capsys, monkeypatch)
    assert out.split("\t")[:3] == ["anna", "regio", "GM0363,GM0599"]
    code, out, _ = _run(["info", "--json"], capsys, monkeypatch)
    assert json.loads(out)["users"] == {"regio": 1}
    assert _run(["users", "remove", "anna"], capsys, monkeypatch)[0] == 0
    code, _, err = _run(["users", "remove", "anna"], capsys, monkeypatch)
    assert code != 0 and "does not exist" in err


@pytest.mark.parametrize("argv, stdin, message", [
    (["users", "add", "bob", "--role", "gemeente", "--gemeente", "GM0363", "--password-stdin"], "kort\n",
     "at least 12 characters"),
    (["users", "add", "bob", "--role", "gemeente", "--password-stdin"], "een-lang-wachtwoord\n",
     "exactly one --gemeente"),
    (["users", "add", "bob", "--role", "gemeente", "--gemeente", "Amsterdam", "--password-stdin"],
     "een-lang-wachtwoord\n", "not a CBS gemeente code"),
])
def test_bad_user_input_is_refused(engine, capsys, monkeypatch, argv, stdin, message):
    code, _, err = _run(argv, capsys, monkeypatch, stdin)
    assert code != 0 and message in err
    with engine.connect() as conn:
        assert users.list_users(conn) == []


def test_lockout_after_repeated_failures_and_unlock(engine):
    """A lock is per account and origin: a stranger's failures lock out his own address, the
    account's owner elsewhere still logs in; only many failures from several origins lock the
    account everywhere, and tries during a lock neither count nor extend it."""
    from datetime import timedelta
    policy = {"max_failures": 3, "lockout": timedelta(minutes=15)}
    with engine.begin() as conn:
        users.add_user(conn, "cor", role="gemeente", gemeenten=["GM0344"], password="een-lang-wachtwoord")
        for _ in range(3):
            state = users.record_login(conn, "cor", False, origin="10.0.0.66", **policy)
        assert users.locked_for(conn, state, "10.0.0.66", **policy)
        assert not state.locked() and not users.locked_for(conn, state, "192.0.2.1", **policy)
        for _ in range(50):  # trying on during the lock: audited, not counted, not extended
            users.record_login(conn, "cor", False, origin="10.0.0.66", **policy)
        assert users.get_user(conn, "cor").failed_logins == 3
        for origin in ("10.0.0.67", "10.0.0.68", "10.0.0.69"):
            for _ in range(3):
                state = users.record_login(conn, "cor", False, origin=origin, **policy)
        assert state.locked()  # 4 × 3 failures from four origins: locked everywhere
        users.unlock(conn, "cor")
        again = users.get_user(conn, "cor")
        assert not again.locked() and not users.locked_for(conn, again, "10.0.0.66", **policy)
