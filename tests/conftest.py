"""Fixtures: a fresh database per test on SQLite, and on PostgreSQL when GKA_TEST_POSTGRES_URL
points at a server (``.ci/run`` starts one), so both dialects pass the same tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from gka_dash import db, demo
from gka_dash.schema import metadata, observation

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


# Cells planted with fewer pupils than the threshold (10) but at least the floor (5): shown when
# the threshold is lowered to 5, so the same test proves they would leak without suppression.
PLANTED = [  # indicator, subject, period, group, value, decimals shown, page that would show it
    ("afstroom_pct", "WK990103", "2016-2018", "", 31.4159, 1, "pages/afstroom.py"),
    ("afstroom_pct", "WK990103", "2016-2018", "", 31.4159, 1, "pages/kaart.py"),
    ("afstroom_pct", "WK990103", "2016-2018", "", 31.4159, 1, "pages/landelijk.py"),
    ("toetsadvies_gem", "0BAE00", "2018-2019", "", 5.8642, 2, "pages/scholen.py"),
    ("havo_vwo_17_pct", "GM9901", "2018", "laag", 93.1357, 1, "pages/ouderopleiding.py"),
]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("views") / "demo.sqlite"
    engine = db.get_engine(f"sqlite:///{path}")
    demo.build_demo(engine)
    with engine.begin() as conn:
        for key, subject, period, group, value, _, _ in PLANTED:
            conn.execute(update(observation).where(
                observation.c.indicator_key == key, observation.c.subject == subject,
                observation.c.period == period, observation.c.group == group).values(value=value, n=7))
    engine.dispose()
    return path


@pytest.fixture
def demo_engine(demo_file, tmp_path, monkeypatch):
    """A private copy of the planted demo, so audit entries of one test stay out of another."""
    path = tmp_path / "demo.sqlite"
    shutil.copy(demo_file, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("GKA_DATABASE_URL", url)
    return db.get_engine(url)


def as_real(engine):
    """The demo's areas and schools in a database that is no longer the demo (flag cleared, demo
    accounts gone): what a test needs to import restricted tables, which the demo refuses."""
    from gka_dash.access import users
    with engine.begin() as conn:
        db.set_demo(conn, False)
        for found in users.list_users(conn):
            if found.demo:
                users.remove_user(conn, found.username, by="test")
    return engine


class Downloads:
    """The download buttons a page drew. Nothing is in them until they are clicked (the files
    are made on the click); iterating clicks every button once, as a user would, and yields
    (file name, bytes). ``eager`` holds anything that was sent with the page itself."""

    def __init__(self):
        self.eager: list[tuple[str, bytes]] = []
        self.buttons: list[tuple[str, object]] = []

    def __iter__(self):
        return iter(list(self.eager) + [(name, make()) for name, make in self.buttons])

    def clear(self) -> None:
        """Forget the buttons of pages opened so far, to look at the next page alone."""
        self.eager.clear()
        self.buttons.clear()


@pytest.fixture
def downloads(monkeypatch):
    """Every file the app offers for download: sent with the page (``eager``, which should stay
    empty) or made when the button is pressed."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.media_file_storage import MediaFileKind
    found = Downloads()
    original = MemoryMediaFileStorage.load_and_get_id
    original_deferred = MediaFileManager.add_deferred

    def spy(self, path_or_data, mimetype, kind, filename=None):
        if kind == MediaFileKind.DOWNLOADABLE:
            found.eager.append((filename, path_or_data))
        return original(self, path_or_data, mimetype, kind, filename)

    def spy_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        found.buttons.append((file_name, data_callable))
        return original_deferred(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    monkeypatch.setattr(MediaFileManager, "add_deferred", spy_deferred)
    return found


def dutch(text) -> float:
    """A number as the tables show it (32.080 / 4,9 / onderdrukt) back as a float; NaN for a word."""
    try:
        return float(str(text).replace(".", "").replace(",", "."))
    except ValueError:
        return float("nan")
