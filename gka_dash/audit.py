"""The audit log: who did what and when (logins, failures, lockouts, exports, imports, users)."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import insert, select

from . import formatting
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


# What each stored action code means, in Dutch: the codes stay as stored (filters, exports and
# tests key on them), the page and its CSV say the words.
ACTIONS = {
    "login": "ingelogd", "login_failed": "inloggen mislukt", "logout": "uitgelogd", "lockout": "geblokkeerd",
    "unlock": "blokkade opgeheven", "export": "bestand gedownload", "import": "gegevens ingelezen",
    "note": "notitie opgeslagen", "user_add": "account aangemaakt", "user_remove": "account verwijderd",
    "user_change": "account gewijzigd", "password_reset": "wachtwoord opnieuw ingesteld",
    "password_change": "wachtwoord gewijzigd", "password_change_failed": "wachtwoord wijzigen mislukt",
    "password_check": "wachtwoord gecontroleerd", "password_check_failed": "wachtwoordcontrole mislukt",
    "session_end": "sessie beëindigd", "user_disable": "account uitgezet", "user_enable": "account weer aangezet",
}


def action_text(action: str) -> str:
    return ACTIONS.get(action, action.replace("_", " "))


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
    frame = pd.DataFrame(rows, columns=["tijd", "gebruiker", "actie", "details"])
    # One time zone everywhere: the reports' Dutch local time, not the stored UTC.
    frame["tijd"] = [formatting.moment(at) for at in frame["tijd"]]
    frame["actie"] = frame["actie"].map(action_text)
    return frame


def actions(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(audit_log.c.action).distinct()).scalars())
