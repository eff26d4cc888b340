"""The figures the views show, composed from scoped and suppressed reads: an indicator per wijk,
its change between two periods, the toetsadvies a school's % APCG leads one to expect, the gap
by ouderopleiding. No Streamlit here: pages, the report export and tests share these functions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from . import formatting, queries, registry, stats
from .periods import parse_period, sort_periods
from .cache import cached
from .scope import Scope

SHOWN, WITHHELD, MISSING = "waarde", "onderdrukt", "geen gegevens"
ALL_GEMEENTEN = "Alle gemeenten"


class AreaValues(NamedTuple):
    frame: pd.DataFrame  # code, name, gemeente_code, geometry, value, n, low, high, status — one row per area
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
    frame["low"], frame["high"] = stats.intervals(frame["value"], frame["n"], registry.get(key).unit)
    return AreaValues(frame.drop(columns="subject"), int(frame["status"].eq(WITHHELD).sum()))


@cached
def wijk_change(engine, scope: Scope, gemeente: str, key: str, before: str, after: str) -> AreaValues:
    """Both periods per wijk with their intervals, and the change between them with the interval
    of the difference and its verdict ("gestegen" only beyond the margin); largest rise first.

    A change needs both values: a wijk withheld in either period gets no change, but keeps the
    value of the other period, which passed suppression on its own.
    """
    unit = registry.get(key).unit
    first = area_values(engine, scope, gemeente, key, before).frame
    second = area_values(engine, scope, gemeente, key, after).frame
    columns = ["value", "n", "low", "high", "status"]
    frame = first.rename(columns={c: f"{c}_before" for c in columns}).merge(
        second[["code", *columns]].rename(columns={c: f"{c}_after" for c in columns}), on="code")
    frame = frame.rename(columns={"value_before": "before", "value_after": "after"})
    frame["change"] = frame["after"] - frame["before"]
    differences = [stats.difference(b, nb, a, na, unit) for b, nb, a, na in
                   zip(frame["before"], frame["n_before"], frame["after"], frame["n_after"])]
    for field in ("low", "high", "p"):
        frame[f"change_{field}"] = [getattr(d, field) if d else np.nan for d in differences]
    frame["verdict"] = [d.verdict if d else "" for d in differences]
    either_withheld = frame["status_before"].eq(WITHHELD) | frame["status_after"].eq(WITHHELD)
    frame["status"] = np.where(frame["change"].notna(), SHOWN, np.where(either_withheld, WITHHELD, MISSING))
    frame = frame.sort_values(["change", "name"], ascending=[False, True], na_position="last")
    return AreaValues(frame.drop(columns=["status_before", "status_after"]).reset_index(drop=True),
                      int(either_withheld.sum()))


def verdict_summary(frame: pd.DataFrame) -> str:
    """How many wijken rose, fell or stayed within the margin, in one sentence for the page."""
    counts = frame["verdict"].value_counts()
    tested = int(counts.sum() - counts.get("", 0))
    if not tested:
        return ""
    return (f"Van de {tested} wijken met cijfers in beide perioden is de verandering in "
            f"{counts.get('gestegen', 0)} een stijging en in {counts.get('gedaald', 0)} een daling die groter is "
            f"dan toeval; in {counts.get('binnen de marge', 0)} valt ze binnen de marge.")


def trend_text(series: pd.DataFrame, ind: registry.Indicator, name: str) -> str:
    """Whether a figure moved in one direction over the loaded periods, in words: a line through
    every period (stats.trend) rather than the two newest points, which a single year can swing."""
    own = series[series["where"] == "gemeente"]
    labels = sort_periods(own["period"])
    own = own.set_index("period").loc[labels]
    if stats.kind(ind.unit) is None or own["n"].isna().all():
        return (f"Geen marge voor dit cijfer ({stats.basis(ind.unit)}); van {labels[0]} tot {labels[-1]} ging het in "
                f"{name} van {formatting.value(own['value'].iloc[0], ind.unit)} naar "
                f"{formatting.value(own['value'].iloc[-1], ind.unit)}.")
    if len(labels) < 3:
        change = stats.difference(own["value"].iloc[0], own["n"].iloc[0], own["value"].iloc[-1], own["n"].iloc[-1],
                                  ind.unit)
        return (f"Twee perioden: of er een richting is, is nog niet te zeggen. Het verschil "
                f"({formatting.with_margin(change.change, change.margin, ind.unit)}) is {change.verdict}."
                if change else "")
    line = stats.trend([parse_period(p).end for p in labels], own["value"], own["n"], ind.unit)
    if line is None:
        return ""
    return (f"Over {line.years} perioden ({labels[0]} tot {labels[-1]}) in {name}: {line.direction}, "
            f"{formatting.difference(line.slope, ind.unit)} per jaar (95 %: "
            f"{formatting.interval(line.low, line.high, ind.unit)} per jaar; een lijn door alle perioden, gewogen "
            "naar hun aantallen).")


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
    spread: float = 0.0  # τ²: how much schools differ beyond chance around the line (stats.between_spread)

    def predict(self, x):
        return self.intercept + self.slope * np.asarray(x, dtype=float)


class SchoolPairs(NamedTuple):
    frame: pd.DataFrame  # id, name, code, period, x, y, n, low, high, expected, residual, limit95, limit998, position
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
    unit = registry.get(y_key).unit
    expected = intercept + slope * pairs["x"]
    chance = [stats.variance(e, n, unit) for e, n in zip(expected, pairs["n"])]
    spread = stats.between_spread(pairs["y"] - expected, [np.nan if v is None else v for v in chance])
    return Fit(float(slope), float(intercept), len(pairs), float(np.corrcoef(pairs["x"], pairs["y"])[0, 1]), spread)


# Where a school-year lies in the funnel: beyond the 99,8 % limit, beyond the 95 % limit, or within.
POSITIONS = ("ver boven verwachting", "boven verwachting", "binnen de marge", "onder verwachting",
             "ver onder verwachting")


def funnel_position(residual: float, limit95: float, limit998: float) -> str:
    if pd.isna(residual) or pd.isna(limit95):
        return ""
    if abs(residual) <= limit95:
        return POSITIONS[2]
    far = abs(residual) > limit998
    return POSITIONS[0 if far else 1] if residual > 0 else POSITIONS[4 if far else 3]


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
    unit = registry.get(y_key).unit
    frame["low"], frame["high"] = stats.intervals(frame["y"], frame["n"], unit)
    frame["expected"] = fit.predict(frame["x"]) if fit else np.nan
    frame["residual"] = frame["y"] - frame["expected"]
    chance = np.array([np.nan if (v := stats.variance(e, n, unit)) is None else v
                       for e, n in zip(frame["expected"], frame["n"])], dtype=float)
    spread = fit.spread if fit else 0.0
    frame["limit95"], frame["limit998"] = (stats.funnel_limit(chance, spread, level) for level in stats.FUNNEL_LEVELS)
    frame["position"] = [funnel_position(r, a, b) for r, a, b in
                         zip(frame["residual"], frame["limit95"], frame["limit998"])]
    frame = frame.sort_values(["name", "period"]).reset_index(drop=True)
    return SchoolPairs(frame[["id", "name", "code", "period", "x", "y", "n", "low", "high", "expected", "residual",
                              "limit95", "limit998", "position"]], len(withheld), fit, note)


def funnel_summary(frame: pd.DataFrame) -> str:
    """The funnel in one sentence, per newest school year shown: how many schools lie beyond the
    95 % limit on each side, against the number chance alone would put there (5 %)."""
    judged = frame[frame["position"] != ""]
    if judged.empty:
        return ""
    period = sort_periods(judged["period"])[-1]
    year = judged[judged["period"] == period]
    above = int(year["position"].isin(POSITIONS[:2]).sum())
    below = int(year["position"].isin(POSITIONS[3:]).sum())
    return (f"In {period} lagen {above} van de {len(year)} scholen boven en {below} onder de verwachting, buiten de "
            f"95 %-grens; door toeval alleen zouden dat er samen ongeveer {formatting.number(0.05 * len(year), 0)} zijn.")


def level_summary(frame: pd.DataFrame, ind: registry.Indicator) -> str:
    """A map in one sentence: where the value is highest and lowest, and how many wijken have one."""
    shown = frame[frame["status"] == SHOWN].dropna(subset=["value"])
    if shown.empty:
        return ""
    top, bottom = shown.loc[shown["value"].idxmax()], shown.loc[shown["value"].idxmin()]
    rest = len(frame) - len(shown)
    return (f"Hoogst in {top['name']} ({formatting.value(top['value'], ind.unit)}), laagst in {bottom['name']} "
            f"({formatting.value(bottom['value'], ind.unit)}); {len(shown)} wijken met een waarde"
            + (f", {rest} zonder." if rest else "."))


def similar_schools(frame: pd.DataFrame, school_id: str, count: int = 5) -> pd.DataFrame:
    """The school and the ``count`` schools of the same gemeente nearest to it in population (x)
    in its newest school year: peers a school can learn from, all within the user's scope."""
    own = frame[frame["id"] == school_id]
    if own.empty:
        return frame.iloc[0:0]
    period = sort_periods(own["period"])[-1]
    year = frame[frame["period"] == period]
    x = float(own.loc[own["period"] == period, "x"].iloc[0])
    others = year[year["id"] != school_id].assign(distance=lambda f: (f["x"] - x).abs())
    nearest = others.sort_values(["distance", "name"]).head(count).drop(columns="distance")
    return pd.concat([year[year["id"] == school_id], nearest], ignore_index=True)


GROUP_WORDS = {"laag": "laagopgeleide ouders", "midden": "middelbaar opgeleide ouders",
               "hoog": "hoogopgeleide ouders"}


class GroupValues(NamedTuple):
    frame: pd.DataFrame  # where (gemeente name or ALL_GEMEENTEN), period, group, value, n, low, high
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
    frame["low"], frame["high"] = stats.intervals(frame["value"], frame["n"], registry.get(key).unit)
    order = {g: i for i, g in enumerate(registry.OUDEROPLEIDING_GROUPS)}
    frame = frame.sort_values(["where", "period", "group"], key=lambda s: s.map(order) if s.name == "group" else s)
    return GroupValues(frame[["where", "period", "group", "value", "n", "low", "high"]].reset_index(drop=True), len(withheld))


def _gap(frame: pd.DataFrame, where: str, period: str) -> float | None:
    values = frame[(frame["where"] == where) & (frame["period"] == period)].set_index("group")["value"]
    if "hoog" in values and "laag" in values:
        return float(values["hoog"] - values["laag"])
    return None


def _groups_at(frame: pd.DataFrame, where: str, period: str) -> pd.DataFrame:
    return frame[(frame["where"] == where) & (frame["period"] == period)].set_index("group")


class Gap(NamedTuple):
    period: str  # the newest year with both groups shown
    gap: float  # hoog minus laag, in procentpunt
    gap_all: float | None  # the same over all gemeenten
    margin: stats.Difference | None  # the gap with its 95 % interval (from the gemeente's own n)


def latest_gap(groups: GroupValues, name: str) -> Gap | None:
    frame = groups.frame
    complete = [p for p in sort_periods(frame.loc[frame["where"] == name, "period"])
                if _gap(frame, name, p) is not None]
    if not complete:
        return None
    period = complete[-1]
    at = _groups_at(frame, name, period)
    margin = stats.difference(at.at["laag", "value"], at.at["laag", "n"], at.at["hoog", "value"], at.at["hoog", "n"], "pct")
    return Gap(period, _gap(frame, name, period), _gap(frame, ALL_GEMEENTEN, period), margin)


def _gap_change(frame: pd.DataFrame, name: str, first: str, last: str) -> stats.Difference | None:
    """The gap's growth from ``first`` to ``last`` with its interval: four figures, each with its n."""
    one, two = _groups_at(frame, name, first), _groups_at(frame, name, last)
    return stats.contrast([(1, two.at["hoog", "value"], two.at["hoog", "n"]), (-1, two.at["laag", "value"], two.at["laag", "n"]),
                           (-1, one.at["hoog", "value"], one.at["hoog", "n"]), (1, one.at["laag", "value"], one.at["laag", "n"])],
                          "pct")


def gap_text(groups: GroupValues, name: str) -> str:
    """The gap between children of high- and low-educated parents, in words with its margin: a
    room reads a sentence faster than it reads two lines on a chart. Words of comparison
    ("groter", "gegroeid") only where the interval allows them."""
    frame = groups.frame
    periods = sort_periods(frame.loc[frame["where"] == name, "period"])
    complete = [p for p in periods if _gap(frame, name, p) is not None]
    latest = latest_gap(groups, name)
    if latest is None:
        return f"Voor {name} zijn er niet genoeg gegevens om het verschil tussen de groepen te tonen."
    period, gap, gap_all, margin = latest
    at = _groups_at(frame, name, period)["value"]
    pct = lambda v: formatting.value(v, "pct")  # noqa: E731
    pp = lambda v: formatting.number(abs(v), 1) + " procentpunt"  # noqa: E731
    marge = f" (marge ±{formatting.number(margin.margin, 1)})" if margin else ""
    text = (f"In {period} zat in {name} {pct(at['hoog'])} van de 17-jarigen met "
            f"{GROUP_WORDS['hoog']} in havo/vwo of hoger onderwijs, tegen {pct(at['laag'])} van de "
            f"17-jarigen met {GROUP_WORDS['laag']}: een verschil van {pp(gap)}{marge}.")
    if gap_all is not None:
        # The reference counts as fixed: its own margin would reveal its n (see stats).
        compare = ("ongeveer even groot als" if margin is None or margin.low <= gap_all <= margin.high
                   else "groter dan" if gap > gap_all else "kleiner dan")
        text += f" Dat verschil is {compare} in alle gemeenten samen ({pp(gap_all)})."
    if len(complete) > 1:
        first = complete[0]
        growth = _gap_change(frame, name, first, period)
        trend = gap - _gap(frame, name, first)
        if growth is not None and growth.verdict != "binnen de marge":
            text += (f" Sinds {first} is het verschil in {name} {'gegroeid' if trend > 0 else 'gekrompen'} met "
                     f"{pp(trend)} (marge ±{formatting.number(growth.margin, 1)}).")
        else:
            text += f" Sinds {first} is het verschil in {name} niet meer veranderd dan toeval kan verklaren."
    if period != periods[-1]:
        text += f" Voor {periods[-1]} is een van de groepen te klein om te tonen."
    return text
