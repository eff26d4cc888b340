"""What the gesprek agreed, with whom, and whether the figure it should move has moved since
(issue #27, the lerende aanpak: from figures to interventions and back to figures).

- **Partners** of a gemeente: an organisation, its kind and role, at most a functional contact.
- **Afspraken** (agreements): from a highlight, the approach, partners, who leads, the indicator
  to follow with its baseline (value, margin, period), the aim and a review date. Versioned like
  the notes (a change adds a version), audited, and scoped: every read and write checks the
  user's scope for the gemeente first, and an agreement is only ever found through its gemeente.
- **Follow-up**: the indicator's newest figure for the same wijk or gemeente after the baseline,
  the change with its 95 % margin, in words that never call a change inside the margin a rise,
  and never call a change the agreement's effect.

The figures come from the same scoped, suppressed reads as the views: an indicator withheld
there is withheld here.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import NamedTuple

import pandas as pd
from sqlalchemy import insert, select, update

from .. import audit, formatting, queries, registry, stats
from ..errors import GkaError
from ..periods import parse_period, sort_periods
from ..schema import agreement, partner
from ..scope import Scope
from . import approaches

STATUSES = ("lopend", "afgerond", "gestopt")
CAVEAT = ("Een verandering na een afspraak is niet vanzelf het effect van die afspraak: ook andere dingen "
          "veranderen, en een wijk met een uitschieter schuift vaak vanzelf terug naar het gemiddelde.")
LIMITS = {"organisation": 200, "role": 300, "contact": 200, "lead": 200, "aim": 2000, "highlight": 300}


def _text(value: str, field: str, label: str, *, required: bool = True) -> str:
    value = " ".join((value or "").split()) if field != "aim" else (value or "").strip()
    if required and not value:
        raise GkaError(f"{label} is leeg; vul het in.")
    if len(value) > LIMITS[field]:
        raise GkaError(f"{label} is hoogstens {LIMITS[field]} tekens lang; dit heeft er {len(value)}.")
    return value


# Partners.

class Partner(NamedTuple):
    id: int
    organisation: str
    kind: str
    role: str
    contact: str


def _partner_values(organisation: str, kind: str, role: str, contact: str) -> dict:
    if kind not in approaches.PARTNER_KINDS:
        raise GkaError(f"Soort partner '{kind}' bestaat niet; kies uit: {', '.join(approaches.PARTNER_KINDS)}.")
    return dict(organisation=_text(organisation, "organisation", "Organisatie"), kind=kind,
                role=_text(role, "role", "Rol", required=False),
                contact=_text(contact, "contact", "Contact", required=False))


def add_partner(engine, scope: Scope, gemeente: str, organisation: str, kind: str, role: str, contact: str,
                author: str) -> None:
    scope.check(gemeente)
    values = _partner_values(organisation, kind, role, contact)
    with engine.begin() as conn:
        conn.execute(insert(partner).values(gemeente_code=gemeente, added_by=author, added_at=audit.now(), **values))
        audit.log(conn, author, "partner_add", f"{gemeente}: {values['organisation']} ({kind})")


def partners(engine, scope: Scope, gemeente: str) -> list[Partner]:
    scope.check(gemeente)
    with engine.connect() as conn:
        rows = conn.execute(select(partner.c.id, partner.c.organisation, partner.c.kind, partner.c.role,
                                   partner.c.contact).where(partner.c.gemeente_code == gemeente,
                                                            partner.c.removed_at.is_(None))
                            .order_by(partner.c.kind, partner.c.organisation)).all()
    return [Partner(*row) for row in rows]


def change_partner(engine, scope: Scope, gemeente: str, partner_id: int, organisation: str, kind: str, role: str,
                   contact: str, author: str) -> None:
    """A partner's name, kind, role or contact corrected in place: afspraken name partners by
    organisation as they were when made, so an afspraak keeps what was agreed."""
    scope.check(gemeente)
    values = _partner_values(organisation, kind, role, contact)
    with engine.begin() as conn:
        done = conn.execute(update(partner).where(partner.c.id == partner_id, partner.c.gemeente_code == gemeente,
                                                  partner.c.removed_at.is_(None)).values(**values)).rowcount
        if not done:
            raise GkaError("Die partner staat niet (meer) bij deze gemeente.")
        audit.log(conn, author, "partner_change", f"{gemeente}: partner {partner_id} → {values['organisation']} "
                                                  f"({kind})")


def remove_partner(engine, scope: Scope, gemeente: str, partner_id: int, author: str) -> None:
    scope.check(gemeente)
    with engine.begin() as conn:
        done = conn.execute(update(partner).where(partner.c.id == partner_id, partner.c.gemeente_code == gemeente,
                                                  partner.c.removed_at.is_(None))
                            .values(removed_at=audit.now(), contact="")).rowcount  # the contact goes with it
        if not done:
            raise GkaError("Die partner staat niet (meer) bij deze gemeente.")
        audit.log(conn, author, "partner_remove", f"{gemeente}: partner {partner_id}")


# Baselines and follow-up.

class Figure(NamedTuple):
    period: str
    value: float
    n: float | None
    extra: float  # estimation variance of DUO's '<5' cells, joins the margin


def series(engine, scope: Scope, gemeente: str, key: str, subject: str) -> list[Figure]:
    """The indicator's figure for a wijk or the gemeente in every loaded period, as the views
    may show it: a wijk's own value; for the gemeente a school indicator's weighted mean over its
    shown schools. Withheld values are absent."""
    ind = registry.get(key)
    found = []
    for period in sort_periods(queries.periods(engine, scope, key, gemeente=gemeente)):
        rows = queries.observations(engine, scope, key, gemeente=gemeente, period=period).rows
        rows = rows[rows["group"] == ""] if "group" in rows else rows
        own = rows[rows["subject"] == subject]
        if len(own):
            row = own.iloc[0]
            found.append(Figure(period, float(row["value"]), None if row["n"] != row["n"] else float(row["n"]), 0.0))
        elif subject == gemeente and ind.level == "school" and len(rows):
            mean = queries.weighted_mean(rows)
            if mean is not None:
                total = rows["n"].sum() if rows["n"].notna().any() else None
                found.append(Figure(period, float(mean), total, queries.estimation(rows).variance))
    return found


def baseline(engine, scope: Scope, gemeente: str, key: str, subject: str) -> Figure | None:
    """The newest figure: the starting point an agreement made today is measured from."""
    found = series(engine, scope, gemeente, key, subject)
    return found[-1] if found else None


def _phi(engine, key: str, subject: str, gemeente: str) -> float:
    """The dispersion of year-to-year changes at the subject's level (docs/statistiek.md)."""
    return queries.dispersion(engine, key, "gemeente" if subject == gemeente else "wijk")


def margin_of(figure: Figure, unit: str, phi: float = 1.0) -> float | None:
    low, high = stats.interval(figure.value, figure.n, unit, phi=phi, extra=figure.extra)
    return None if low is None else (high - low) / 2


class FollowUp(NamedTuple):
    sentence: str  # "sinds de afspraak (2023-2024): +2,1 procentpunt, marge ±1,8: binnen de marge"
    change: stats.Difference | None
    latest: Figure | None
    series: list[Figure]
    frame: pd.DataFrame  # the series as a chart takes it, with each period's 95 % interval


def follow_up(engine, scope: Scope, entry: "Agreement") -> FollowUp:
    """The change of the agreement's indicator from its baseline to the newest period after it."""
    ind = registry.get(entry.indicator)
    found = series(engine, scope, entry.gemeente, entry.indicator, entry.subject)
    start = parse_period(entry.baseline_period)
    later = [f for f in found if parse_period(f.period).start > start.start]
    if not later:
        return FollowUp(f"sinds de afspraak ({entry.baseline_period}): nog geen nieuwer cijfer geladen", None, None,
                        found, series_frame(engine, entry, found))
    newest = later[-1]
    before = next((f for f in found if f.period == entry.baseline_period), None)
    n_before = before.n if before else None
    extra = (before.extra if before else 0.0) + newest.extra
    change = stats.difference(entry.baseline_value, n_before, newest.value, newest.n, ind.unit,
                              phi=_phi(engine, entry.indicator, entry.subject, entry.gemeente), extra=extra)
    if change is None:
        sentence = (f"sinds de afspraak ({entry.baseline_period}): "
                    f"{formatting.difference(newest.value - entry.baseline_value, ind.unit)} in {newest.period}; "
                    "een marge is voor dit cijfer niet te geven")
    else:
        sentence = (f"sinds de afspraak ({entry.baseline_period}): {formatting.with_margin(change.change, change.margin, ind.unit)}"
                    f" in {newest.period}: {change.verdict}")
    return FollowUp(sentence, change, newest, found, series_frame(engine, entry, found))


def series_frame(engine, entry: "Agreement", found: list[Figure]) -> pd.DataFrame:
    """The follow-up series as a chart takes it: period, value and its 95 % interval."""
    ind = registry.get(entry.indicator)
    phi = _phi(engine, entry.indicator, entry.subject, entry.gemeente)
    bounds = [stats.interval(f.value, f.n, ind.unit, phi=phi, extra=f.extra) for f in found]
    return pd.DataFrame({"period": [f.period for f in found], "value": [f.value for f in found],
                         "n": [f.n for f in found], "low": [lo for lo, _ in bounds], "high": [hi for _, hi in bounds]})


# Agreements.

class Agreement(NamedTuple):
    key: str
    version: int
    gemeente: str
    highlight: str
    approach: str
    partners: tuple[str, ...]
    lead: str
    indicator: str
    subject: str
    subject_name: str
    baseline_period: str
    baseline_value: float
    baseline_margin: float | None
    aim: str
    review_on: str
    status: str
    author: str
    at: object

    @property
    def baseline_text(self) -> str:
        ind = registry.get(self.indicator)
        margin = (f" (marge ±{formatting.number(self.baseline_margin, formatting.DECIMALS.get(ind.unit, 1))})"
                  if self.baseline_margin is not None else "")
        return f"{formatting.value(self.baseline_value, ind.unit)}{margin} in {self.baseline_period}"


def record(engine, scope: Scope, gemeente: str, *, highlight: str, indicator: str, subject: str, subject_name: str,
           lead: str, aim: str, review_on: date, approach: str = "", partners=(), author: str,
           key: str | None = None, status: str = "lopend") -> str:
    """Record an agreement, or (with ``key``) a new version of one; the baseline is the indicator's
    newest figure for that subject as the views show it, taken now. Returns the agreement's key."""
    scope.check(gemeente)
    if indicator not in registry.INDICATORS:
        raise GkaError(f"Indicator '{indicator}' bestaat niet.")
    if status not in STATUSES:
        raise GkaError(f"Status '{status}' bestaat niet; kies uit: {', '.join(STATUSES)}.")
    if not isinstance(review_on, date):
        raise GkaError("Kies een datum voor de evaluatie.")
    names = {a.name for a in approaches.catalogue(engine)}
    if approach and approach not in names:
        raise GkaError(f"Aanpak '{approach}' staat niet in de catalogus.")
    current = {a.key: a for a in agreements(engine, scope, gemeente)}
    if key is not None and key not in current:
        raise GkaError("Die afspraak hoort niet bij deze gemeente.")
    if key is None:
        start = baseline(engine, scope, gemeente, indicator, subject)
        if start is None:
            raise GkaError("Voor dit cijfer is geen waarde te tonen; een afspraak heeft een beginwaarde nodig.")
        values = dict(baseline_period=start.period, baseline_value=start.value,
                      baseline_margin=margin_of(start, registry.get(indicator).unit,
                                                _phi(engine, indicator, subject, gemeente)), subject=subject,
                      subject_name=_text(subject_name, "highlight", "Naam"), indicator=indicator)
        key, version = secrets.token_hex(8), 1
    else:
        old = current[key]  # a new version keeps what the agreement follows: its indicator and baseline
        values = dict(baseline_period=old.baseline_period, baseline_value=old.baseline_value,
                      baseline_margin=old.baseline_margin, subject=old.subject, subject_name=old.subject_name,
                      indicator=old.indicator)
        version = old.version + 1
    with engine.begin() as conn:
        conn.execute(insert(agreement).values(
            key=key, version=version, gemeente_code=gemeente, highlight=_text(highlight, "highlight", "Punt"),
            approach=approach, partners="|".join(p.strip() for p in partners if p.strip())[:2000],
            lead=_text(lead, "lead", "Trekker"), aim=_text(aim, "aim", "Doel"), review_on=review_on.isoformat(),
            status=status, author=author, at=audit.now(), **values))
        audit.log(conn, author, "agreement", f"{gemeente}: afspraak {key} versie {version}")
    return key


def _from_row(row) -> Agreement:
    return Agreement(row.key, row.version, row.gemeente_code, row.highlight, row.approach,
                     tuple(p for p in row.partners.split("|") if p), row.lead, row.indicator, row.subject,
                     row.subject_name, row.baseline_period, row.baseline_value, row.baseline_margin, row.aim,
                     row.review_on, row.status, row.author, row.at)


def history(engine, scope: Scope, gemeente: str) -> list[Agreement]:
    """Every version of every agreement of the gemeente, newest first."""
    scope.check(gemeente)
    with engine.connect() as conn:
        rows = conn.execute(select(agreement).where(agreement.c.gemeente_code == gemeente)
                            .order_by(agreement.c.at.desc(), agreement.c.id.desc())).all()
    return [_from_row(r) for r in rows]


def agreements(engine, scope: Scope, gemeente: str) -> list[Agreement]:
    """The agreements as they stand (the newest version of each), by review date."""
    current: dict[str, Agreement] = {}
    for entry in history(engine, scope, gemeente):
        if entry.key not in current or entry.version > current[entry.key].version:
            current[entry.key] = entry
    return sorted(current.values(), key=lambda a: (a.status != "lopend", a.review_on, a.highlight))


def dutch_date(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d-%m-%Y")


def upcoming(entries: list[Agreement], today: date, days: int = 60) -> list[Agreement]:
    """Running agreements whose review date is past or within ``days``."""
    return [a for a in entries if a.status == "lopend" and (date.fromisoformat(a.review_on) - today).days <= days]
