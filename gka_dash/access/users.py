"""Users in the database: bcrypt hashes, role and scope, failed logins and lockout.

streamlit-authenticator gets its credentials from here (see :mod:`gka_dash.access.auth`); nothing about
users lives in a committed file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import bcrypt
from sqlalchemy import delete, func, insert, select, update

from .. import audit, codes, config, formatting
from . import sessions
from ..errors import AuthError
from ..schema import login_failure
from ..schema import user as user_table
from ..scope import ROLES, Scope

MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class User:
    username: str
    name: str
    email: str
    role: str
    gemeenten: tuple[str, ...]
    demo: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime | None = None
    granted_by: str | None = None
    last_login_at: datetime | None = None
    disabled_at: datetime | None = None
    second_factor_since: datetime | None = None
    login_via: str | None = None  # an identity provider's key; None: a local account with a password

    @property
    def scope(self) -> Scope:
        return Scope.for_user(self.role, self.gemeenten)

    def locked(self, at: datetime | None = None) -> bool:
        """Locked after failed logins, or switched off: either way no login and no session."""
        at = at or datetime.now(timezone.utc)
        return self.disabled_at is not None or (self.locked_until is not None and audit.aware(self.locked_until) > at)


def hash_password(password: str) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(config.bcrypt_rounds())).decode()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def verify_password(password: str, password_hash: str) -> bool:
    return bcrypt.checkpw(password.encode(), password_hash.encode())


def validate_grant(role: str, gemeenten) -> tuple[str, ...]:
    """The gemeenten of a role as stored, or AuthError: one for a gemeente user, at least one for
    regio, none for a beheerder (who sees every gemeente)."""
    if role not in ROLES:
        raise AuthError(f"role '{role}' is unknown; expected {', '.join(ROLES)}")
    try:
        normalised = tuple(sorted({codes.gemeente_code(g) for g in gemeenten}))
    except ValueError as exc:
        raise AuthError(str(exc)) from None
    if role == "gemeente" and len(normalised) != 1:
        raise AuthError("a gemeente user needs exactly one --gemeente")
    if role == "regio" and not normalised:
        raise AuthError("a regio user needs at least one --gemeente")
    if role == "beheerder" and normalised:
        raise AuthError("a beheerder sees every gemeente; give no --gemeente")
    return normalised


def _row_to_user(row) -> User:
    def moment(value):
        return value and audit.aware(value)
    return User(row.username, row.name, row.email, row.role,
                tuple(g for g in row.gemeenten.split(",") if g), bool(row.demo),
                row.failed_logins, moment(row.locked_until), moment(row.created_at), row.granted_by,
                moment(row.last_login_at), moment(row.disabled_at), moment(row.totp_since), row.login_via)


def add_user(conn, username: str, *, role: str, gemeenten=(), password: str, name: str = "",
             email: str = "", demo: bool = False, by: str = "cli") -> User:
    gemeenten = validate_grant(role, gemeenten)
    username = username.strip().lower()
    if not username:
        raise AuthError("a username is required")
    if get_user(conn, username) is not None:
        raise AuthError(f"user '{username}' already exists")
    conn.execute(insert(user_table).values(
        username=username, name=name or username, email=email, password_hash=hash_password(password),
        role=role, gemeenten=",".join(gemeenten), demo=demo, failed_logins=0,
        created_at=audit.now(), granted_by=by))
    audit.log(conn, by, "user_add", f"{username} ({role} {','.join(gemeenten)})")
    return get_user(conn, username)


def get_user(conn, username: str) -> User | None:
    row = conn.execute(select(user_table).where(user_table.c.username == username.strip().lower())).first()
    return _row_to_user(row) if row else None


def password_hash(conn, username: str) -> str | None:
    return conn.execute(select(user_table.c.password_hash).where(user_table.c.username == username)).scalar_one_or_none()


def list_users(conn) -> list[User]:
    return [_row_to_user(r) for r in conn.execute(select(user_table).order_by(user_table.c.username))]


def _require(conn, username: str) -> User:
    found = get_user(conn, username)
    if found is None:
        raise AuthError(f"user '{username}' does not exist")
    return found


def remove_user(conn, username: str, *, by: str = "cli") -> None:
    _require(conn, username)
    conn.execute(delete(user_table).where(user_table.c.username == username))
    conn.execute(delete(login_failure).where(login_failure.c.username == username))
    sessions.revoke_user(conn, username, "account removed")
    audit.log(conn, by, "user_remove", username)


def set_role(conn, username: str, *, role: str, gemeenten=(), by: str = "cli") -> None:
    _require(conn, username)
    gemeenten = validate_grant(role, gemeenten)
    conn.execute(update(user_table).where(user_table.c.username == username)
                 .values(role=role, gemeenten=",".join(gemeenten), granted_by=by))
    sessions.revoke_user(conn, username, "role or scope changed")
    audit.log(conn, by, "user_change", f"{username}: {role} {','.join(gemeenten)}")


def reset_password(conn, username: str, password: str, *, by: str = "cli") -> None:
    _require(conn, username)
    conn.execute(update(user_table).where(user_table.c.username == username)
                 .values(password_hash=hash_password(password), failed_logins=0, locked_until=None))
    conn.execute(delete(login_failure).where(login_failure.c.username == username))
    sessions.revoke_user(conn, username, "password reset")
    audit.log(conn, by, "password_reset", username)


def store_password_hash(conn, username: str, new_hash: str, *, by: str) -> None:
    """Write back a password that streamlit-authenticator's own form has changed and hashed."""
    _require(conn, username)
    conn.execute(update(user_table).where(user_table.c.username == username).values(password_hash=new_hash))
    sessions.revoke_user(conn, username, "password changed")
    audit.log(conn, by, "password_change", username)


def unlock(conn, username: str, *, by: str = "cli") -> None:
    _require(conn, username)
    conn.execute(update(user_table).where(user_table.c.username == username)
                 .values(failed_logins=0, locked_until=None))
    conn.execute(delete(login_failure).where(login_failure.c.username == username))
    audit.log(conn, by, "unlock", username)


# A lock is per account and origin (the client address): a stranger who fails someone's login
# locks out his own address, not the account. Only failures from GLOBAL_LOCK_FACTOR times as many
# tries (so from several addresses) lock the account everywhere and end its sessions; failures
# while a lock holds are audited but neither counted nor extend it, so no one can keep an
# account locked by trying on (OWASP ASVS 2.2.1).
GLOBAL_LOCK_FACTOR = 4


def _recent_failures(conn, username: str, lockout: timedelta, origin: str | None = None) -> int:
    query = select(func.count()).where(login_failure.c.username == username,
                                       login_failure.c.at > audit.now() - lockout)
    if origin is not None:
        query = query.where(login_failure.c.origin == origin)
    return int(conn.execute(query).scalar())


def locked_for(conn, found: User, origin: str, *, max_failures: int, lockout: timedelta) -> bool:
    """Whether a login of this account from this origin is refused now: the account is locked
    everywhere, or this origin has failed it ``max_failures`` times within the lockout window."""
    return found.locked() or _recent_failures(conn, found.username, lockout, origin) >= max_failures


def begin_attempt(conn, username: str, origin: str, *, max_failures: int, lockout: timedelta,
                  what: str = "login") -> bool:
    """Before a password is checked: take the account's row (so that attempts in parallel come
    one after the other), refuse when the account is locked for this origin, and otherwise count
    the attempt as a failure until :func:`record_login` says it succeeded. Thirty guesses sent at
    once therefore get the same ``max_failures`` tries as thirty sent one by one."""
    conn.execute(update(user_table).where(user_table.c.username == username)
                 .values(failed_logins=user_table.c.failed_logins))  # the write lock first, then read
    found = get_user(conn, username)
    where = f"herkomst {origin}"
    if found is None or found.login_via:  # an organisation account has no password: guessing one locks nothing
        audit.log(conn, username or "-", f"{what}_failed", f"onbekende gebruiker; {where}")
        return False
    if locked_for(conn, found, origin, max_failures=max_failures, lockout=lockout):
        audit.log(conn, found.username, f"{what}_failed", f"tijdens blokkade (niet geteld); {where}")
        return False
    conn.execute(insert(login_failure).values(username=found.username, origin=origin, at=audit.now()))
    return True


def record_login(conn, username: str, success: bool, *, max_failures: int, lockout: timedelta,
                 origin: str = "-", what: str = "login", counted: bool = False) -> User | None:
    """Count a failure per account and origin and lock as described above; a success clears the
    failures of its origin. ``what`` names the check in the audit (login, password change);
    ``counted``: the failure was already counted by :func:`begin_attempt`."""
    found = get_user(conn, username)
    where = f"herkomst {origin}"
    if found is None:
        audit.log(conn, username, f"{what}_failed", f"onbekende gebruiker; {where}")
        return None
    if success:
        conn.execute(delete(login_failure).where(login_failure.c.username == found.username,
                                                 login_failure.c.origin == origin))
        conn.execute(update(user_table).where(user_table.c.username == found.username).values(
            failed_logins=_recent_failures(conn, found.username, lockout),
            **({"last_login_at": audit.now()} if what == "login" else {})))
        audit.log(conn, found.username, what, where)
        return get_user(conn, found.username)
    if not counted:
        if locked_for(conn, found, origin, max_failures=max_failures, lockout=lockout):
            audit.log(conn, found.username, f"{what}_failed", f"tijdens blokkade (niet geteld); {where}")
            return found
        conn.execute(insert(login_failure).values(username=found.username, origin=origin, at=audit.now()))
    from_here = _recent_failures(conn, found.username, lockout, origin)
    everywhere = _recent_failures(conn, found.username, lockout)
    values = {"failed_logins": everywhere}
    audit.log(conn, found.username, f"{what}_failed", f"poging {from_here}; {where}")
    if from_here >= max_failures:
        audit.log(conn, found.username, "lockout",
                  f"{where} geblokkeerd tot {formatting.moment(audit.now() + lockout)}")
    if everywhere >= GLOBAL_LOCK_FACTOR * max_failures:
        values["locked_until"] = audit.now() + lockout
        audit.log(conn, found.username, "lockout", f"overal geblokkeerd tot {formatting.moment(values['locked_until'])}")
        sessions.revoke_user(conn, found.username, "locked")
    conn.execute(update(user_table).where(user_table.c.username == found.username).values(**values))
    return get_user(conn, found.username)


# The access review (BIO2 5.18.03, 8.02.01): every account with what it may see, how it logs in
# and who gave it that; accounts without a login for config.unused_days() are flagged and are
# switched off in one step. Switched off is not removed: the audit trail keeps its name.
REVIEW_COLUMNS = ["Gebruikersnaam", "Naam", "Rol", "Bevoegdheid", "Inloggen met", "Tweede factor", "Laatst ingelogd",
                  "Toegekend door", "Aangemaakt", "Status"]


def unused(found: User, days: int, at: datetime | None = None) -> bool:
    """No login for ``days`` (counted from the account's creation when it never logged in)."""
    at = at or audit.now()
    since = found.last_login_at or found.created_at
    return found.disabled_at is None and since is not None and at - since >= timedelta(days=days)


def review(conn, days: int) -> list[dict]:
    rows = []
    for found in list_users(conn):
        status = ("uitgezet " + formatting.moment(found.disabled_at) if found.disabled_at else
                  f"ongebruikt (> {days} dagen)" if unused(found, days) else
                  "geblokkeerd" if found.locked() else "actief")
        rows.append(dict(zip(REVIEW_COLUMNS, [
            found.username, found.name, found.role, ", ".join(found.gemeenten) or "alle gemeenten",
            f"organisatie-account ({found.login_via})" if found.login_via else "wachtwoord",
            f"app (sinds {formatting.moment(found.second_factor_since)})" if found.second_factor_since else "geen",
            formatting.moment(found.last_login_at) if found.last_login_at else "nooit",
            found.granted_by or "onbekend", formatting.moment(found.created_at) if found.created_at else "",
            status + (" (demo)" if found.demo else "")])))
    return rows


def disable_unused(conn, days: int, *, by: str) -> list[str]:
    """Switch off every account unused for ``days`` (never the beheerder doing it), ending its
    sessions; audited one line per account."""
    done = []
    for found in list_users(conn):
        if found.username != by and unused(found, days):
            conn.execute(update(user_table).where(user_table.c.username == found.username)
                         .values(disabled_at=audit.now()))
            sessions.revoke_user(conn, found.username, "switched off (unused)")
            audit.log(conn, by, "user_disable", f"{found.username}: geen login in {days} dagen")
            done.append(found.username)
    return done


def enable(conn, username: str, *, by: str = "cli") -> None:
    """Switch an account back on (its owner had a reason to be away)."""
    _require(conn, username)
    conn.execute(update(user_table).where(user_table.c.username == username)
                 .values(disabled_at=None, last_login_at=audit.now()))
    audit.log(conn, by, "user_enable", username)
