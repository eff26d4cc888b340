"""The audit log: who did what and when (logins, failures, lockouts, exports, imports, users)."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import insert, select

from .schema import audit_log


def now() -> datetime:
    return datetime.now(timezone.utc)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def log(conn, username: str, action: str, detail: str = "") -> None:
    """Written in the caller's transaction, so an import that rolls back leaves no entry."""
    conn.execute(insert(audit_log).values(at=now(), username=username or "-", action=action,
                                          detail=detail[:2000]))


def entries(engine, *, username: str | None = None, action: str | None = None,
            since: datetime | None = None, until: datetime | None = None, limit: int = 1000) -> pd.DataFrame:
    """The newest entries first, filtered as the Beheer page asks."""
    query = select(audit_log.c.at, audit_log.c.username, audit_log.c.action, audit_log.c.detail)
    if username:
        query = query.where(audit_log.c.username == username)
    if action:
        query = query.where(audit_log.c.action == action)
    if since:
        query = query.where(audit_log.c.at >= since)
    if until:
        query = query.where(audit_log.c.at < until)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)).all()
    return pd.DataFrame(rows, columns=["tijd", "gebruiker", "actie", "details"])


def actions(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(audit_log.c.action).distinct()).scalars())
