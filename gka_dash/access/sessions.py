"""Server-side login sessions: the cookie holds a random token, the database decides whether it
still logs anyone in (design §7, OWASP ASVS V3).

A signed cookie that carries the username (streamlit-authenticator's own) cannot be taken back:
it logs in until it expires, after logout, after a password reset, after a lock. Here every
such event revokes the sessions of the account, and expiry is the server's clock, not the
cookie's: an absolute lifetime from the login (``config.session_hours``) and an idle timeout
from the last click (``config.idle_minutes``, 15 by default), both checked on every request by
every process, since both live in the database. The clock is :func:`audit.now`, which tests
set. No Streamlit here; :mod:`gka_dash.ui.login` sets and reads the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, insert, select, update

from typing import NamedTuple

from .. import audit, config
from ..schema import cookie_ticket, login_session

TICKET_LIFETIME = timedelta(minutes=2)
TOUCH_EVERY = timedelta(seconds=30)  # a click within this of the last one is not written again


def token_hash(token: str) -> str:
    """What the database (and the download guard) keep of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def create(conn, username: str, lifetime: timedelta | None = None, origin: str = "", *,
           login_via: str | None = None, id_token: str | None = None) -> str:
    """A new session for a user who has just proved who they are; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    now = audit.now()
    conn.execute(insert(login_session).values(
        token_hash=token_hash(token), username=username, created_at=now, last_seen_at=now, origin=origin[:64],
        login_via=login_via, id_token=id_token,
        expires_at=now + (lifetime or timedelta(hours=config.session_hours()))))
    return token


def _live(row, now) -> bool:
    """Not revoked, within its absolute lifetime, and used within the idle timeout."""
    last = audit.aware(row.last_seen_at or row.created_at)
    return (row.revoked_at is None and audit.aware(row.expires_at) > now
            and now - last < timedelta(minutes=config.idle_minutes()))


def username(conn, token: str | None) -> str | None:
    """Whose session this token opens, or None: unknown, revoked, expired or idle tokens open nothing."""
    if not token or not isinstance(token, str):
        return None
    row = conn.execute(select(login_session.c.username, login_session.c.created_at, login_session.c.expires_at,
                              login_session.c.last_seen_at, login_session.c.revoked_at)
                       .where(login_session.c.token_hash == token_hash(token))).first()
    if row is None or not _live(row, audit.now()):
        return None
    return row.username


def touch(conn, token: str) -> None:
    """A click in this session: the idle timeout starts again (written at most every 30 s)."""
    now = audit.now()
    conn.execute(update(login_session).where(login_session.c.token_hash == token_hash(token),
                                             login_session.c.revoked_at.is_(None),
                                             login_session.c.expires_at > now,
                                             # an idle session stays ended: a click cannot revive it
                                             login_session.c.last_seen_at > now - timedelta(minutes=config.idle_minutes()),
                                             login_session.c.last_seen_at < now - TOUCH_EVERY)
                 .values(last_seen_at=now))


def remaining(conn, token: str | None) -> timedelta | None:
    """How long this token's session still lasts at most (what its cookie may live), None when
    it is over."""
    if username(conn, token) is None:
        return None
    expires = conn.execute(select(login_session.c.expires_at).where(login_session.c.token_hash == token_hash(token))).scalar()
    return audit.aware(expires) - audit.now()


class Active(NamedTuple):
    """A live session as its list shows it: never its token, nor the token's hash."""
    id: str  # a public handle, derived from the hash, with which the list ends it
    username: str
    started: object
    last_seen: object
    ends: object  # the earlier of the absolute end and the idle end
    origin: str
    current: bool


def public_id(hashed: str) -> str:
    return hashlib.sha256(b"gka-session-id\0" + hashed.encode()).hexdigest()[:16]


def active(conn, *, username: str | None = None, current: str | None = None) -> list[Active]:
    """The live sessions of one account (None: of everyone), newest first."""
    query = select(login_session).where(login_session.c.revoked_at.is_(None))
    if username is not None:
        query = query.where(login_session.c.username == username)
    now, idle = audit.now(), timedelta(minutes=config.idle_minutes())
    mine = token_hash(current) if current else None
    found = []
    for row in conn.execute(query.order_by(login_session.c.created_at.desc())):
        if _live(row, now):
            last = audit.aware(row.last_seen_at or row.created_at)
            found.append(Active(public_id(row.token_hash), row.username, audit.aware(row.created_at), last,
                                min(audit.aware(row.expires_at), last + idle), row.origin or "", row.token_hash == mine))
    return found


def end(conn, session_id: str, *, by: str, everyone: bool) -> str | None:
    """End one live session by its public id: one's own, or anyone's for a beheerder
    (``everyone``). Returns whose it was, None when there is no such session for this person."""
    for row in conn.execute(select(login_session.c.token_hash, login_session.c.username)
                            .where(login_session.c.revoked_at.is_(None))):
        if public_id(row.token_hash) == session_id and (everyone or row.username == by):
            conn.execute(update(login_session).where(login_session.c.token_hash == row.token_hash)
                         .values(revoked_at=audit.now(), id_token=None,
                                 revoked_why="beëindigd via sessielijst" if row.username == by
                                 else f"beëindigd door {by}"[:60]))
            audit.log(conn, by, "session_end", f"sessie van {row.username} beëindigd")
            return row.username
    return None


def revoke(conn, token: str | None, why: str = "logout") -> tuple[str, str] | None:
    """End this session; for a login through an identity provider, returns (provider, ID token)
    so the logout can end the session there too."""
    if not token:
        return None
    row = conn.execute(select(login_session.c.login_via, login_session.c.id_token)
                       .where(login_session.c.token_hash == token_hash(token))).first()
    conn.execute(update(login_session).where(login_session.c.token_hash == token_hash(token),
                                             login_session.c.revoked_at.is_(None))
                 .values(revoked_at=audit.now(), revoked_why=why, id_token=None))
    return (row.login_via, row.id_token) if row is not None and row.login_via and row.id_token else None


def revoke_user(conn, username: str, why: str) -> int:
    """End every session of an account: its password changed, it was locked, its role or scope
    changed, or it was removed. Returns how many were still open."""
    return conn.execute(update(login_session).where(login_session.c.username == username,
                                                    login_session.c.revoked_at.is_(None))
                        .values(revoked_at=audit.now(), revoked_why=why, id_token=None)).rowcount


def _sealer(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"gka-cookie-ticket\0" + key.encode()).digest()))


def ticket(conn, token: str, key: str) -> str:
    """A one-time ticket for setting this session's cookie: the page posts it, the server
    exchanges it (:func:`redeem`), so the token never passes through the page's script. The
    database keeps the ticket's hash and the token sealed with the server's key, for two
    minutes at most, and deletes both at the exchange."""
    value = secrets.token_urlsafe(32)
    conn.execute(delete(cookie_ticket).where(cookie_ticket.c.expires_at <= audit.now()))
    conn.execute(insert(cookie_ticket).values(ticket_hash=token_hash(value), sealed=_sealer(key).encrypt(
        token.encode()).decode(), expires_at=audit.now() + TICKET_LIFETIME))
    return value


def redeem(conn, value: str, key: str | None) -> str | None:
    """The token of a live session for a ticket not yet used nor expired, once; else None."""
    if not value or not key:
        return None
    row = conn.execute(select(cookie_ticket.c.sealed, cookie_ticket.c.expires_at)
                       .where(cookie_ticket.c.ticket_hash == token_hash(value))).first()
    if row is None or conn.execute(delete(cookie_ticket).where(
            cookie_ticket.c.ticket_hash == token_hash(value))).rowcount != 1:
        return None
    if audit.aware(row.expires_at) <= audit.now():
        return None
    try:
        token = _sealer(key).decrypt(row.sealed.encode()).decode()
    except InvalidToken:
        return None
    return token if username(conn, token) is not None else None
