"""Faults show no internals (issue #14): a database that is down, read-only or busy gives one
plain line to a user and to the CLI, never a traceback with hosts, ports and paths."""

import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from gka_dash import cli, db, demo

from .conftest import raw, snapshot
from .test_views import APP

DOWN = "postgresql+psycopg://gka:geheim@127.0.0.1:9/gka"  # port 9 (discard): nothing listens


def test_a_database_that_is_down_gives_every_visitor_a_plain_page(monkeypatch):
    monkeypatch.setenv("GKA_DATABASE_URL", DOWN)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Het dashboard kan de database op dit moment niet bereiken. Probeer het over een minuut opnieuw; "
        "blijft dit zo, neem dan contact op met de beheerder."]
    shown = " ".join(str(getattr(e, "value", "")) for kind in ("error", "markdown", "caption", "info")
                     for e in getattr(at, kind))
    assert "127.0.0.1" not in shown and "geheim" not in shown and "psycopg" not in shown


def test_the_page_recovers_when_the_database_is_back(sqlite_engine, monkeypatch):
    monkeypatch.setenv("GKA_DATABASE_URL", DOWN)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.error
    monkeypatch.setenv("GKA_DATABASE_URL", str(sqlite_engine.url))
    at.run()
    assert not at.error and [t.label for t in at.text_input][:2] == ["Gebruikersnaam", "Wachtwoord"]


def test_the_cli_says_in_one_line_that_the_database_is_down(monkeypatch, capsys):
    monkeypatch.setenv("GKA_DATABASE_URL", DOWN)
    assert cli.main(["info"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fout: postgresql+psycopg://gka:***@127.0.0.1:9/gka cannot be reached")
    assert "geheim" not in err[0]


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """The demo opened read-only (SQLite's mode=ro: refused writes even for root, as a
    read-only mount or a database account without write rights refuses them)."""
    path = tmp_path / "gka.sqlite"
    engine = db.get_engine(f"sqlite:///{path}")
    demo.build_demo(engine)
    engine.dispose()
    monkeypatch.setenv("GKA_DATABASE_URL", f"sqlite:///file:{path}?mode=ro&uri=true")
    return path


def test_a_read_only_database_still_answers_info_and_refuses_a_change_in_one_line(read_only, capsys):
    assert cli.main(["info"]) == 0
    assert "veenhaven" not in capsys.readouterr().err
    assert cli.main(["users", "unlock", "veenhaven"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be written" in err[0], err


def test_an_import_while_another_holds_the_lock_says_so_in_one_line_and_changes_nothing(sqlite_engine, monkeypatch,
                                                                                        capsys):
    from .conftest import as_real
    demo.build_demo(sqlite_engine)
    as_real(sqlite_engine)
    monkeypatch.setenv("GKA_SQLITE_BUSY_SECONDS", "0.2")
    sqlite_engine.dispose()
    before = snapshot(sqlite_engine)
    holder = sqlite3.connect(sqlite_engine.url.database)
    holder.execute("BEGIN IMMEDIATE")  # another import's transaction
    try:
        code = cli.main(["import-open-data", str(raw("apcg/apcg_pc4_LA2014_LA2011-2012.csv"))])
    finally:
        holder.rollback()
        holder.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1 and "busy with another import (locked)" in err[0], err
    sqlite_engine.dispose()
    assert snapshot(sqlite_engine) == before
