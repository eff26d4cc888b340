"""Engine and transactions for the one database behind the dashboard.

SQLite (the default file under ``data/``) and PostgreSQL (``GKA_DATABASE_URL``) go through the
same code; the only dialect-specific line switches SQLite's foreign keys on so that deleting a
dataset cascades to its rows on both.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import make_url

from . import config, registry
from .schema import metadata, setting

LOG = logging.getLogger("gka_dash.db")

SCHEMA_VERSION = "1"


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process: Streamlit reruns and CLI calls share its pool."""
    return _engine(url or config.database_url())


@functools.lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


@contextlib.contextmanager
def brief_wait(conn):
    """For a write that may be skipped (a session's last click): on SQLite wait a quarter of a
    second for the write lock, not the half minute a login waits, so a page never hangs behind
    an import for it."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql("PRAGMA busy_timeout = 250")
    try:
        yield conn
    finally:
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(config.sqlite_busy_seconds() * 1000)}")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the app) do not block an import
    # An import holds SQLite's one write lock for its whole transaction; a login, its audit row
    # or a note waits for it this long instead of failing at once with "database is locked".
    cursor.execute(f"PRAGMA busy_timeout = {int(config.sqlite_busy_seconds() * 1000)}")
    cursor.close()


def init_db(engine: Engine) -> None:
    """Create missing tables and bring the indicator registry up to date; safe to repeat."""
    metadata.create_all(engine)
    _add_missing_columns(engine)
    _add_missing_indexes(engine)
    with engine.begin() as conn:
        registry.sync(conn)
        _set(conn, "schema_version", SCHEMA_VERSION)
        if _get(conn, "data_version") is None:
            _set(conn, "data_version", "0")
        if _get(conn, "database_id") is None:
            _set(conn, "database_id", uuid.uuid4().hex)


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to a table after a database was made (create_all makes tables, not
    columns): added here, nullable, so an existing database keeps working and its rows mean
    what they meant ("no estimated cells")."""
    found = inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            present = {c["name"] for c in found.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def _add_missing_indexes(engine: Engine) -> None:
    """Indexes added to a table after a database was made, as for columns: among them the
    unique (provider, subject) of provider accounts, which keeps two logins of one person from
    becoming two accounts, and must hold on a database made before it too."""
    found = inspect(engine)
    for table in metadata.sorted_tables:
        present = {i["name"] for i in found.get_indexes(table.name)}
        for index in table.indexes:
            if index.name in present:
                continue
            try:
                with engine.begin() as conn:
                    index.create(conn)
            except IntegrityError:  # rows from before it break a unique index: say which, and go on
                columns = ", ".join(c.name for c in index.columns)
                LOG.warning("index %s on %s (%s) not made: some rows share a value there; remove the duplicates "
                            "(provider accounts: python -m gka_dash users list, then users remove) and start again",
                            index.name, table.name, columns)


def data_version(engine: Engine) -> int:
    """A counter bumped by every write of indicator data; caches key on it."""
    with engine.connect() as conn:
        return int(_get(conn, "data_version") or 0)


def data_stamp(engine: Engine) -> tuple:
    """What tells one state of the data from another: the id the database got when its schema
    was made (a rebuilt database at the same URL is a new one) and the data version."""
    with engine.connect() as conn:
        return tuple(sorted(conn.execute(select(setting.c.key, setting.c.value).where(
            setting.c.key.in_(("database_id", "data_version"))))))


def bump_data_version(conn) -> None:
    _set(conn, "data_version", str(int(_get(conn, "data_version") or 0) + 1))


def is_demo(engine: Engine) -> bool:
    with engine.connect() as conn:
        return is_demo_conn(conn)


def is_demo_conn(conn) -> bool:
    return _get(conn, "demo") == "1"


def set_demo(conn, demo: bool) -> None:
    _set(conn, "demo", "1" if demo else "0")


def _get(conn, key: str) -> str | None:
    return conn.execute(select(setting.c.value).where(setting.c.key == key)).scalar_one_or_none()


def _set(conn, key: str, value: str) -> None:
    if conn.execute(update(setting).where(setting.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(setting.insert().values(key=key, value=value))


def bulk_insert(conn, table, columns: list[str], rows: list[tuple]) -> None:
    """Insert many rows inside the caller's transaction.

    SQLAlchemy's executemany of dicts spent most of an import converting parameters; COPY on
    PostgreSQL and the driver's own executemany on SQLite take plain tuples.
    """
    names = ", ".join(f'"{column}"' for column in columns)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
    finally:
        cursor.close()


def drop_all(engine: Engine) -> None:
    """For tests and ``demo --reset``: leave an empty schema behind."""
    metadata.drop_all(engine)


def describe_fault(exc: Exception, engine: Engine | None = None) -> str:
    """One line for a database fault, for a person: what happened and what to do, with the
    database named by its URL without password, never a driver's traceback."""
    text = str(getattr(exc, "orig", exc) or exc).splitlines()[0].lower()
    where = engine.url.render_as_string(hide_password=True) if engine is not None else "the database"
    if "locked" in text or "busy" in text:
        return f"{where} is busy with another import (locked); try again when it has finished"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return f"{where} cannot be written (read-only file or account); nothing was changed"
    if "disk" in text and ("full" in text or "space" in text):
        return f"{where}: the disk is full; nothing was changed"
    if "no such table" in text or "does not exist" in text:
        return f"{where} has no dashboard schema yet; run `python -m gka_dash init-db`"
    return f"{where} cannot be reached or used ({text[:120]}); nothing was changed"
