"""A second factor for local accounts (BIO2 5.17.01, OWASP ASVS V2.8): time-based one-time codes
(TOTP, RFC 6238, as any authenticator app makes them) and one-time recovery codes.

Required for the roles in ``config.second_factor_roles()`` (beheerders by default). The secret
is sealed with the server's key; a code is valid in its 30-second step and the one either side
(a phone's clock drifts), and never twice. Wrong codes count towards the same lock as wrong
passwords (the caller counts them with :func:`gka_dash.access.users.begin_attempt`). Only another
beheerder resets an account's second factor, and every change is audited. No Streamlit here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, insert, select, update

from .. import audit, config
from . import sessions
from ..errors import AuthError
from ..schema import recovery_code
from ..schema import user as user_table

ISSUER = "GKA Dashboard"
STEP = 30
RECOVERY_CODES = 10
# Wrong codes in a row after which the second factor is blocked until another beheerder resets it:
# the lock on wrong attempts expires, so without this a patient guesser with the password would
# get about a thousand guesses a day at a 1-in-a-million chance each.
MAX_WRONG = 10
CODE = re.compile(r"^[0-9]{6}$")


def required(role: str) -> bool:
    return role in config.second_factor_roles()


def _sealer(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"gka-second-factor\0" + key.encode()).digest()))


def _row(conn, username: str):
    return conn.execute(select(user_table.c.totp_secret, user_table.c.totp_pending, user_table.c.totp_last_step,
                               user_table.c.totp_failures,
                               user_table.c.role).where(user_table.c.username == username)).first()


def enrolled(conn, username: str) -> bool:
    row = _row(conn, username)
    return row is not None and row.totp_secret is not None


def begin(conn, username: str, key: str) -> str:
    """A new secret for this account, waiting for a code that proves the app has it; returns the
    otpauth:// address the QR code carries."""
    secret = pyotp.random_base32()
    conn.execute(update(user_table).where(user_table.c.username == username)
                 .values(totp_pending=_sealer(key).encrypt(secret.encode()).decode()))
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def secret_of(address: str) -> str:
    """The secret in an otpauth:// address, to type in by hand where a QR code cannot be scanned."""
    return re.search(r"secret=([A-Z2-7]+)", address).group(1)


def qr_svg(address: str) -> str:
    buffer = io.BytesIO()
    segno.make(address, error="m").save(buffer, kind="svg", scale=5, border=2, title="QR-code voor de authenticator-app")
    return buffer.getvalue().decode()


def _step_ok(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step this code belongs to (now, or one either side), if it is not older than or
    equal to the last step used; else None."""
    if not CODE.match(code or ""):
        return None
    totp, now = pyotp.TOTP(secret), audit.now().timestamp()
    for offset in (0, -1, 1):
        step = int(now // STEP) + offset
        if secrets.compare_digest(totp.at(step * STEP), code) and (last_step is None or step > last_step):
            return step
    return None


def confirm(conn, username: str, code: str, key: str) -> list[str] | None:
    """The first code from the app: the pending secret becomes the account's, and ten recovery
    codes are made, returned this once (only their hashes are kept). None: the code was wrong."""
    row = _row(conn, username)
    if row is None or row.totp_pending is None:
        return None
    try:
        secret = _sealer(key).decrypt(row.totp_pending.encode()).decode()
    except InvalidToken:
        return None
    step = _step_ok(secret, code.strip(), None)
    if step is None:
        return None
    conn.execute(update(user_table).where(user_table.c.username == username).values(
        totp_secret=row.totp_pending, totp_pending=None, totp_since=audit.now(), totp_last_step=step))
    codes = new_recovery_codes(conn, username, key)
    audit.log(conn, username, "second_factor_on", f"{username}: authenticator-app gekoppeld")
    return codes


def new_recovery_codes(conn, username: str, key: str) -> list[str]:
    conn.execute(delete(recovery_code).where(recovery_code.c.username == username))
    codes = [f"{base64.b32encode(secrets.token_bytes(7)).decode()[:5]}-{base64.b32encode(secrets.token_bytes(7)).decode()[:5]}"
             for _ in range(RECOVERY_CODES)]
    conn.execute(insert(recovery_code), [{"code_hash": _hash(c, key), "username": username} for c in codes])
    return codes


def _hash(code: str, key: str) -> str:
    """Keyed with the server's secret: a copy of the database alone cannot test guesses (50 bits
    of a code fall to a GPU in hours against a plain hash)."""
    return hmac.new(hashlib.sha256(b"gka-recovery-code\0" + key.encode()).digest(),
                    re.sub(r"[^A-Z2-7]", "", code.upper()).encode(), hashlib.sha256).hexdigest()


def check(conn, username: str, code: str, key: str) -> str | None:
    """A code from the app, or a recovery code (used up by this): returns which ("app",
    "herstelcode"), or None when it is neither; AuthError once :data:`MAX_WRONG` wrong codes came
    in a row (the caller commits the count either way)."""
    row = _row(conn, username)
    if row is None or row.totp_secret is None:
        return None
    if (row.totp_failures or 0) >= MAX_WRONG:
        raise AuthError("the second factor is blocked after too many wrong codes; another beheerder must reset it")
    found = _check(conn, row, username, (code or "").strip(), key)
    conn.execute(update(user_table).where(user_table.c.username == username).values(
        totp_failures=0 if found else user_table.c.totp_failures + 1 if row.totp_failures else 1))
    if not found and (row.totp_failures or 0) + 1 >= MAX_WRONG:
        audit.log(conn, username, "second_factor_blocked", f"{username}: {MAX_WRONG} onjuiste codes op rij")
    return found


def _check(conn, row, username: str, code: str, key: str) -> str | None:
    try:
        secret = _sealer(key).decrypt(row.totp_secret.encode()).decode()
    except InvalidToken:
        return None
    step = _step_ok(secret, code.replace(" ", ""), row.totp_last_step)
    if step is not None:  # claimed in one conditional write: two logins racing with one code, one wins
        claimed = conn.execute(update(user_table).where(
            user_table.c.username == username,
            (user_table.c.totp_last_step.is_(None)) | (user_table.c.totp_last_step < step))
            .values(totp_last_step=step)).rowcount
        return "app" if claimed == 1 else None
    used = conn.execute(update(recovery_code).where(recovery_code.c.username == username,
                                                    recovery_code.c.code_hash == _hash(code, key),
                                                    recovery_code.c.used_at.is_(None))
                        .values(used_at=audit.now())).rowcount
    if used:
        left = conn.execute(select(recovery_code.c.code_hash).where(recovery_code.c.username == username,
                                                                    recovery_code.c.used_at.is_(None))).all()
        audit.log(conn, username, "recovery_code_used", f"{username}: nog {len(left)} herstelcodes over")
        return "herstelcode"
    return None


def reset(conn, username: str, *, by: str, by_role: str) -> None:
    """Only another beheerder: the account enrols again at its next login; its sessions end."""
    if by_role != "beheerder" or by == username:
        raise AuthError("alleen een andere beheerder kan de tweede factor van een account opnieuw instellen")
    conn.execute(update(user_table).where(user_table.c.username == username).values(
        totp_secret=None, totp_pending=None, totp_since=None, totp_last_step=None, totp_failures=None))
    conn.execute(delete(recovery_code).where(recovery_code.c.username == username))
    sessions.revoke_user(conn, username, "second factor reset")
    audit.log(conn, by, "second_factor_reset", username)
