"""A beheerder's second factor where a machine logs in (browser tests, the deploy test, the
benchmarks): enrolled through the same calls as the enrolment screen, and each login given the
code a phone would show next that the server has not yet seen used (it refuses a code twice)."""

from __future__ import annotations

import time

import pyotp
from sqlalchemy import select

from gka_dash import db
from gka_dash.access import second_factor
from gka_dash.schema import user


def enrol(url: str, username: str, key: str) -> str:
    """Enrol ``username`` with a fresh secret sealed under the server's ``key``; returns the secret."""
    with db.get_engine(url).begin() as conn:
        secret = second_factor.secret_of(second_factor.begin(conn, username, key))
        assert second_factor.confirm(conn, username, pyotp.TOTP(secret).now(), key)
    return secret


def next_code(url: str, username: str, secret: str) -> str:
    """The code of this 30-second step or the next, whichever the server has not seen yet; when
    both are used, wait for the clock to reach a fresh one (a condition, not a fixed time)."""
    engine = db.get_engine(url)
    while True:
        with engine.connect() as conn:
            last = conn.execute(select(user.c.totp_last_step).where(user.c.username == username)).scalar()
        now = int(time.time() // second_factor.STEP)
        for step in (now, now + 1):
            if last is None or step > last:
                return pyotp.TOTP(secret).at(step * second_factor.STEP)
        time.sleep(1)
