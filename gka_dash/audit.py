"""The audit log: who did what and when (logins, failures, lockouts, exports, imports, users)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import insert

from .schema import audit_log


def now() -> datetime:
    return datetime.now(timezone.utc)


def log(conn, username: str, action: str, detail: str = "") -> None:
    """Written in the caller's transaction, so an import that rolls back leaves no entry."""
    conn.execute(insert(audit_log).values(at=now(), username=username or "-", action=action,
                                          detail=detail[:2000]))
