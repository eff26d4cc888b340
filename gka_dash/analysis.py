"""The figures the views show, composed from scoped and suppressed reads: an indicator per wijk,
its change between two periods, the toetsadvies a school's % APCG leads one to expect, the gap
by ouderopleiding. No Streamlit here: pages, the report export and tests share these functions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from . import formatting, queries, registry
from .periods import sort_periods
from .cache import cached
from .scope import Scope

SHOWN, WITHHELD, MISSING = "waarde", "onderdrukt", "geen gegevens"
ALL_GEMEENTEN = "Alle gemeenten"


class AreaValues(NamedTuple):
    frame: pd.DataFrame  # code, name, gemeente_code, geometry, value, n, status — one row per area
    withheld: int


@cached
def area_values(engine, scope: Scope, gemeente: str | None, key: str, period: str, *,
                level: str = "wijk") -> AreaValues:
    """Every area of the gemeente (None: of every gemeente in the scope, the national view)
    with its value, or the reason it has none.

    Areas without a value stay in the frame (status withheld or missing) so that a map still
    draws them, greyed, and a table can say why.
    """
    outlines = queries.areas(engine, scope, gemeente, level)
    rows, withheld = queries.observations(engine, scope, key, gemeente=gemeente, period=period)
    rows = rows[rows["group"] == ""]
    frame = outlines.merge(rows[["subject", "value", "n"]], left_on="code", right_on="subject", how="left")
    frame["status"] = np.where(frame["value"].notna(), SHOWN,
                               np.where(frame["code"].isin(withheld["subject"]), WITHHELD, MISSING))
    return AreaValues(frame.drop(columns="subject"), int(frame["status"].eq(WITHHELD).sum()))


@cached
def wijk_change(engine, scope: Scope, gemeente: str, key: str, before: str, after: str) -> AreaValues:
    """Both periods per wijk and the change between them, largest rise first.

    A change needs both values: a wijk withheld in either period gets no change, but keeps the
    value of the other period, which passed suppression on its own.
    """
    first = area_values(engine, scope, gemeente, key, before).frame
    second = area_values(engine, scope, gemeente, key, after).frame
    frame = first.rename(columns={"value": "before", "n": "n_before", "status": "status_before"}).merge(
        second[["code", "value", "n", "status"]].rename(
            columns={"value": "after", "n": "n_after", "status": "status_after"}), on="code")
    frame["change"] = frame["after"] - frame["before"]
    either_withheld = frame["status_before"].eq(WITHHELD) | frame["status_after"].eq(WITHHELD)
    frame["status"] = np.where(frame["change"].notna(), SHOWN, np.where(either_withheld, WITHHELD, MISSING))
    frame = frame.sort_values(["change", "name"], ascending=[False, True], na_position="last")
    return AreaValues(frame.drop(columns=["status_before", "status_after"]).reset_index(drop=True),
                      int(either_withheld.sum()))


class Change(NamedTuple):
    before: str
    after: str
    values: AreaValues


def latest_change(engine, scope: Scope, gemeente: str, key: str) -> Change | None:
    """The change per wijk between the two newest periods of the gemeente, or None with fewer
    than two: what the gesprek highlights and the report compare by default."""
    labels = queries.periods(engine, scope, key, gemeente=gemeente)
    if len(labels) < 2:
        return None
    before, after = labels[-2], labels[-1]
    return Change(before, after, wijk_change(engine, scope, gemeente, key, before, after))


@cached
def reference_means(engine, scope: Scope, gemeente: str, key: str, periods: list[str]) -> pd.DataFrame:
    """Per period the gemeente's mean over its shown wijken or schools and the mean over all
    gemeenten in the data, both weighted by pupils: the two yardsticks a reader asks for. The
    second is None where the disclosure rule withholds it (see :func:`queries.reference`)."""
    records = []
    for period in periods:
        here = queries.observations(engine, scope, key, gemeente=gemeente, period=period).rows
        records.append({"period": period, "gemeente": queries.weighted_mean(here[here["group"] == ""]),
                        "alle": queries.reference(engine, scope, key, period=period, group="")})
    return pd.DataFrame(records, columns=["period", "gemeente", "alle"])


class Fit(NamedTuple):
    slope: float
    intercept: float
    points: int
    r: float

    def predict(self, x):
        return self.intercept + self.slope * np.asarray(x, dtype=float)


class SchoolPairs(NamedTuple):
    frame: pd.DataFrame  # id, name, code (id or blank), period, x, y, n, expected, residual
    withheld: int
    fit: Fit | None
    note: str  # how the periods of x and y were matched, when not year by year


def _pair(x: pd.DataFrame, y: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Match the two indicators per school and school year.

    Some public figures exist for one year only (achterstandsscore: 2019-2020); then that one
    year stands for every year of the other indicator, and the view says so.
    """
    columns = ["subject", "gemeente_code", "period", "value", "n"]
    x, y = x[columns], y[columns]
    note = ""
    if x.empty or y.empty:
        return pd.DataFrame(columns=["subject", "gemeente_code", "period", "x", "y", "n"]), note
    if not set(x["period"]) & set(y["period"]) or (x["period"].nunique() == 1 and y["period"].nunique() > 1):
        latest = sort_periods(x["period"])[-1]
        x = x[x["period"] == latest].drop(columns="period")
        note = (f"De horizontale as is er alleen voor {latest}; die waarde van elke school staat bij elk "
                "schooljaar van de verticale as.")
        pairs = y.merge(x, on=["subject", "gemeente_code"], suffixes=("_y", "_x"))
    else:
        pairs = y.merge(x, on=["subject", "gemeente_code", "period"], suffixes=("_y", "_x"))
    pairs = pairs.rename(columns={"value_x": "x", "value_y": "y"})
    pairs["n"] = pairs[["n_x", "n_y"]].min(axis=1)
    return pairs[["subject", "gemeente_code", "period", "x", "y", "n"]], note


@cached
def expected_line(engine, x_key: str, y_key: str) -> Fit | None:
    """Weighted least squares of y on x over every school of every gemeente in the data.

    Schools above the line do better than their pupil population leads one to expect. Only the
    two coefficients leave this function, so it reveals nothing of another gemeente's schools.
    """
    pairs, _ = _pair(queries.all_gemeenten(engine, x_key), queries.all_gemeenten(engine, y_key))
    pairs = pairs.dropna(subset=["x", "y"])
    if len(pairs) < 3 or pairs["x"].nunique() < 2:
        return None
    weights = np.sqrt(pairs["n"].fillna(1).clip(lower=1))
    slope, intercept = np.polyfit(pairs["x"], pairs["y"], 1, w=weights)
    return Fit(float(slope), float(intercept), len(pairs), float(np.corrcoef(pairs["x"], pairs["y"])[0, 1]))


def school_axes(engine, scope: Scope, gemeente: str) -> tuple[str, str] | None:
    """The population (x) and outcome (y) indicators a gemeente's schools have, best first:
    toetsadvies against % APCG from the restricted tables, else the public figures (schooladvies
    against the CBS achterstandsscore), so a gemeente with public data only still gets the view."""
    present = queries.indicators_at(engine, scope, gemeente, "school")
    x = next((k for k in registry.SCHOOL_POPULATION if k in present), None)
    y = next((k for k in registry.SCHOOL_OUTCOMES if k in present), None)
    return (x, y) if x and y else None


@cached
def school_pairs(engine, scope: Scope, gemeente: str, x_key: str, y_key: str, *,
                 pseudonyms: bool = False) -> SchoolPairs:
    names = queries.schools(engine, scope, gemeente, pseudonyms=pseudonyms)[["id", "name", "code"]]
    x = queries.observations(engine, scope, x_key, gemeente=gemeente)
    y = queries.observations(engine, scope, y_key, gemeente=gemeente)
    pairs, note = _pair(x.rows, y.rows)
    withheld = pd.concat([x.withheld, y.withheld])[["subject", "period"]].drop_duplicates()
    frame = pairs.merge(names, left_on="subject", right_on="id").drop(columns=["subject", "gemeente_code"])
    fit = expected_line(engine, x_key, y_key)
    frame["expected"] = fit.predict(frame["x"]) if fit else np.nan
    frame["residual"] = frame["y"] - frame["expected"]
    frame = frame.sort_values(["name", "period"]).reset_index(drop=True)
    return SchoolPairs(frame[["id", "name", "code", "period", "x", "y", "n", "expected", "residual"]],
                       len(withheld), fit, note)


GROUP_WORDS = {"laag": "laagopgeleide ouders", "midden": "middelbaar opgeleide ouders",
               "hoog": "hoogopgeleide ouders"}


class GroupValues(NamedTuple):
    frame: pd.DataFrame  # where (gemeente name or ALL_GEMEENTEN), period, group, value, n
    withheld: int


@cached
def by_group(engine, scope: Scope, gemeente: str, name: str, key: str) -> GroupValues:
    """The gemeente per group and year next to all gemeenten together (pupil-weighted, under the
    disclosure rule, and without n: a reference's n minus one's own is another gemeente's)."""
    rows, withheld = queries.observations(engine, scope, key, gemeente=gemeente)
    here = rows[["period", "group", "value", "n"]].assign(where=name)
    everywhere = pd.DataFrame([
        {"period": period, "group": group, "value": value, "n": pd.NA, "where": ALL_GEMEENTEN}
        for period, group in sorted(set(zip(here["period"], here["group"])))
        if (value := queries.reference(engine, scope, key, period=period, group=group)) is not None],
        columns=["period", "group", "value", "n", "where"])
    frame = pd.concat([here, everywhere], ignore_index=True) if len(everywhere) else here
    order = {g: i for i, g in enumerate(registry.OUDEROPLEIDING_GROUPS)}
    frame = frame.sort_values(["where", "period", "group"], key=lambda s: s.map(order) if s.name == "group" else s)
    return GroupValues(frame[["where", "period", "group", "value", "n"]].reset_index(drop=True), len(withheld))


def _gap(frame: pd.DataFrame, where: str, period: str) -> float | None:
    values = frame[(frame["where"] == where) & (frame["period"] == period)].set_index("group")["value"]
    if "hoog" in values and "laag" in values:
        return float(values["hoog"] - values["laag"])
    return None


class Gap(NamedTuple):
    period: str  # the newest year with both groups shown
    gap: float  # hoog minus laag, in procentpunt
    gap_all: float | None  # the same over all gemeenten


def latest_gap(groups: GroupValues, name: str) -> Gap | None:
    frame = groups.frame
    complete = [p for p in sort_periods(frame.loc[frame["where"] == name, "period"])
                if _gap(frame, name, p) is not None]
    if not complete:
        return None
    return Gap(complete[-1], _gap(frame, name, complete[-1]), _gap(frame, ALL_GEMEENTEN, complete[-1]))


def gap_text(groups: GroupValues, name: str) -> str:
    """The gap between children of high- and low-educated parents, in words: a room reads a
    sentence faster than it reads two lines on a chart."""
    frame = groups.frame
    periods = sort_periods(frame.loc[frame["where"] == name, "period"])
    complete = [p for p in periods if _gap(frame, name, p) is not None]
    latest = latest_gap(groups, name)
    if latest is None:
        return f"Voor {name} zijn er niet genoeg gegevens om het verschil tussen de groepen te tonen."
    period, gap, gap_all = latest
    at = frame[(frame["where"] == name) & (frame["period"] == period)].set_index("group")["value"]
    pct = lambda v: formatting.value(v, "pct")  # noqa: E731
    pp = lambda v: formatting.number(abs(v), 1) + " procentpunt"  # noqa: E731
    text = (f"In {period} zat in {name} {pct(at['hoog'])} van de 17-jarigen met "
            f"{GROUP_WORDS['hoog']} in havo/vwo of hoger onderwijs, tegen {pct(at['laag'])} van de "
            f"17-jarigen met {GROUP_WORDS['laag']}: een verschil van {pp(gap)}.")
    if gap_all is not None:
        compare = ("groter dan" if gap > gap_all + 0.5 else "kleiner dan" if gap < gap_all - 0.5
                   else "ongeveer even groot als")
        text += f" Dat verschil is {compare} in alle gemeenten samen ({pp(gap_all)})."
    if len(complete) > 1:
        first = complete[0]
        trend = gap - _gap(frame, name, first)
        text += (f" Sinds {first} is het verschil in {name} "
                 + (f"{'gegroeid' if trend > 0 else 'gekrompen'} met {pp(trend)}." if abs(trend) >= 0.5
                    else "vrijwel gelijk gebleven."))
    if period != periods[-1]:
        text += f" Voor {periods[-1]} is een van de groepen te klein om te tonen."
    return text
