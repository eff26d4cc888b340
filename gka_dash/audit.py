"""The audit log: who did what and when (logins, failures, lockouts, exports, imports, users)."""

from __future__ import annotations

from contextvars import ContextVar
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


# Where the request being served comes from: the app sets it at the start of every run (the
# client address), the command line is "cli". Every audit line records it.
ORIGIN: ContextVar[str] = ContextVar("gka_origin", default="cli")
REFUSED = ("_failed", "lockout")


def result_of(action: str) -> str:
    return ("mislukt" if action.endswith(REFUSED[0])
            else "geweigerd" if action == REFUSED[1] or action.endswith("_refused") else "gelukt")


def log(conn, username: str, action: str, detail: str = "", *, origin: str | None = None) -> None:
    """Written in the caller's transaction, so an import that rolls back leaves no entry. Never
    a secret: callers pass names and counts, never a password, token or code."""
    conn.execute(insert(audit_log).values(at=now(), username=username or "-", action=action,
                                          detail=detail[:2000], origin=(origin or ORIGIN.get())[:64],
                                          result=result_of(action)))


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
    "agreement": "afspraak vastgelegd", "partner_add": "partner toegevoegd", "partner_change": "partner gewijzigd",
    "partner_remove": "partner verwijderd",
    "oidc_refused": "organisatie-inlog geweigerd", "oidc_rule_add": "toegangsregel toegevoegd",
    "oidc_rule_remove": "toegangsregel verwijderd",
    "second_factor_on": "tweede factor gekoppeld", "second_factor_reset": "tweede factor gewist",
    "second_factor_failed": "code tweede factor onjuist",
    "second_factor_blocked": "tweede factor geblokkeerd", "recovery_code_used": "herstelcode gebruikt",
}


def action_text(action: str) -> str:
    return ACTIONS.get(action, action.replace("_", " "))


def entries(engine, *, username: str | None = None, action: str | None = None,
            since: datetime | None = None, until: datetime | None = None, limit: int = 1000) -> pd.DataFrame:
    """The newest entries first, filtered as the Beheer page asks."""
    query = select(audit_log.c.at, audit_log.c.username, audit_log.c.action, audit_log.c.detail,
                   audit_log.c.result, audit_log.c.origin)
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
    frame = pd.DataFrame(rows, columns=["tijd", "gebruiker", "actie", "object", "resultaat", "herkomst"])
    frame["resultaat"] = frame["resultaat"].fillna("")  # lines from before BIO2's fields
    frame["herkomst"] = frame["herkomst"].fillna("")
    # One time zone everywhere: the reports' Dutch local time, not the stored UTC.
    frame["tijd"] = [formatting.moment(at) for at in frame["tijd"]]
    frame["actie"] = frame["actie"].map(action_text)
    return frame


def actions(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(audit_log.c.action).distinct()).scalars())
