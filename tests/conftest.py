"""Fixtures: a fresh database per test on SQLite, and on PostgreSQL when GKA_TEST_POSTGRES_URL
points at a server (``.ci/run`` starts one), so both dialects pass the same tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from gka_dash import db
from gka_dash.schema import metadata

os.environ.setdefault("GKA_BCRYPT_ROUNDS", "4")  # hashing speed is not under test

RAW = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "raw"
POSTGRES_URL = os.environ.get("GKA_TEST_POSTGRES_URL")

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not POSTGRES_URL, reason="GKA_TEST_POSTGRES_URL not set"))]


def raw(relative: str) -> Path:
    path = RAW / relative
    if not path.exists():
        pytest.fail(f"real data missing: {path} (tests expect ../shared/data/raw beside the repo)")
    return path


def _fresh(kind: str, tmp_path: Path, monkeypatch) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'gka.sqlite'}"
    else:
        url = POSTGRES_URL
        db.drop_all(db.get_engine(url))
    monkeypatch.setenv("GKA_DATABASE_URL", url)
    db.init_db(db.get_engine(url))
    return url


@pytest.fixture(params=DATABASES)
def engine(request, tmp_path, monkeypatch):
    """An empty, initialised database; GKA_DATABASE_URL points at it for the CLI."""
    return db.get_engine(_fresh(request.param, tmp_path, monkeypatch))


@pytest.fixture
def sqlite_engine(tmp_path, monkeypatch):
    """For tests whose subject is not the database dialect (pages, demo content)."""
    return db.get_engine(_fresh("sqlite", tmp_path, monkeypatch))


SURROGATE = {"id", "dataset_id"}


def snapshot(engine, *, surrogate_keys: bool = True) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: equal snapshots mean equal database content.

    Without surrogate keys it compares content only: PostgreSQL sequences move on after a
    delete, SQLite may reuse the number, and neither is content.
    """
    with engine.connect() as conn:
        result = {}
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if surrogate_keys or c.name not in SURROGATE]
            result[table.name] = sorted(tuple(map(repr, row)) for row in conn.execute(select(*columns)))
        return result
