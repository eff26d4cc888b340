"""Server-side login sessions: the cookie holds a random token, the database decides whether it
still logs anyone in (design §7, OWASP ASVS V3).

A signed cookie that carries the username (streamlit-authenticator's own) cannot be taken back:
it logs in until it expires, after logout, after a password reset, after a lock. Here every
such event revokes the sessions of the account, and expiry is the server's clock, not the
cookie's. No Streamlit here; :mod:`gka_dash.ui.login` sets and reads the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, insert, select, update

from . import audit
from .schema import cookie_ticket, login_session

TICKET_LIFETIME = timedelta(minutes=2)


def token_hash(token: str) -> str:
    """What the database (and the download guard) keep of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def create(conn, username: str, lifetime: timedelta) -> str:
    """A new session for a user who has just proved who they are; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    now = audit.now()
    conn.execute(insert(login_session).values(token_hash=token_hash(token), username=username, created_at=now,
                                              expires_at=now + lifetime))
    return token


def username(conn, token: str | None) -> str | None:
    """Whose session this token opens, or None: unknown, revoked or expired tokens open nothing."""
    if not token or not isinstance(token, str):
        return None
    row = conn.execute(select(login_session.c.username, login_session.c.expires_at, login_session.c.revoked_at)
                       .where(login_session.c.token_hash == token_hash(token))).first()
    if row is None or row.revoked_at is not None or audit.aware(row.expires_at) <= audit.now():
        return None
    return row.username


def remaining(conn, token: str | None) -> timedelta | None:
    """How long this token's session still lasts (what its cookie may live), None when it is over."""
    if username(conn, token) is None:
        return None
    expires = conn.execute(select(login_session.c.expires_at).where(login_session.c.token_hash == token_hash(token))).scalar()
    return audit.aware(expires) - audit.now()


def revoke(conn, token: str | None, why: str = "logout") -> None:
    if token:
        conn.execute(update(login_session).where(login_session.c.token_hash == token_hash(token),
                                                 login_session.c.revoked_at.is_(None))
                     .values(revoked_at=audit.now(), revoked_why=why))


def revoke_user(conn, username: str, why: str) -> int:
    """End every session of an account: its password changed, it was locked, its role or scope
    changed, or it was removed. Returns how many were still open."""
    return conn.execute(update(login_session).where(login_session.c.username == username,
                                                    login_session.c.revoked_at.is_(None))
                        .values(revoked_at=audit.now(), revoked_why=why)).rowcount


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
