"""Signals of misuse for the beheerder (BIO2 8.16): spikes of failed logins, per account and
overall, and logins from an origin the account never used or at an hour it never logs in.

Read from the audit log alone, so they hold across processes and survive restarts. A signal is
a reason to look, not a verdict: the page says what was seen and leaves the judgement.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select

from . import audit, formatting
from .schema import audit_log

WINDOW = timedelta(hours=24)  # the period a signal looks at
HISTORY = timedelta(days=90)  # what is "usual" for an account
SPIKE_PER_ACCOUNT = 10  # failed logins of one account within the window
SPIKE_FACTOR = 3  # overall: this many times the daily mean of the history …
SPIKE_MINIMUM = 20  # … and at least this many
QUIET_HOURS = range(0, 6)  # local hours at which a login is unusual unless the account logs in then


class Signal(NamedTuple):
    kind: str  # mislukte logins (account), mislukte logins (totaal), nieuwe herkomst, ongebruikelijk uur
    username: str
    at: datetime
    text: str


def signals(engine, *, at: datetime | None = None) -> list[Signal]:
    at = at or audit.now()
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.at, audit_log.c.username, audit_log.c.action, audit_log.c.origin)
                            .where(audit_log.c.at >= at - HISTORY - WINDOW, audit_log.c.at <= at,
                                   audit_log.c.action.in_(["login", "login_failed"]))
                            .order_by(audit_log.c.at)).all()
    since = at - WINDOW
    recent = [r for r in rows if audit.aware(r.at) >= since]
    earlier = [r for r in rows if audit.aware(r.at) < since]
    found = []
    failed = [r for r in recent if r.action == "login_failed"]
    per_account: dict[str, list] = {}
    for r in failed:
        per_account.setdefault(r.username, []).append(r)
    for username, tries in sorted(per_account.items()):
        if len(tries) >= SPIKE_PER_ACCOUNT:
            origins = sorted({t.origin or "?" for t in tries})
            found.append(Signal("mislukte logins (account)", username, audit.aware(tries[-1].at),
                                f"{len(tries)} mislukte logins in 24 uur, vanaf {len(origins)} herkomst(en): "
                                f"{', '.join(origins[:5])}{' …' if len(origins) > 5 else ''}"))
    daily = sum(r.action == "login_failed" for r in earlier) / (HISTORY / timedelta(days=1))
    if len(failed) >= max(SPIKE_MINIMUM, SPIKE_FACTOR * daily):
        found.append(Signal("mislukte logins (totaal)", "-", at,
                            f"{len(failed)} mislukte logins in 24 uur over alle accounts; gewoonlijk "
                            f"{formatting.number(daily, 1)} per dag"))
    seen_origins: dict[str, set] = {}
    seen_hours: dict[str, set] = {}
    for r in earlier:
        if r.action == "login":
            seen_origins.setdefault(r.username, set()).add(r.origin)
            seen_hours.setdefault(r.username, set()).add(_hour(r.at))
    for r in recent:
        if r.action != "login":
            continue
        if r.username in seen_origins and r.origin not in seen_origins[r.username]:
            found.append(Signal("nieuwe herkomst", r.username, audit.aware(r.at),
                                f"ingelogd vanaf {r.origin or '?'}, een adres dat dit account in 90 dagen niet gebruikte"))
        hour = _hour(r.at)
        if hour in QUIET_HOURS and hour not in seen_hours.get(r.username, set()):
            found.append(Signal("ongebruikelijk uur", r.username, audit.aware(r.at),
                                f"ingelogd om {formatting.moment(r.at)[-5:]}, een uur waarop dit account niet inlogt"))
    return sorted(found, key=lambda s: s.at, reverse=True)


def _hour(at) -> int:
    return int(formatting.moment(at)[-5:-3])  # the local hour, as the log shows it
