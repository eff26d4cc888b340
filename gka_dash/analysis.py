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
    outlines = queries.areas(engine, scope, gemeente, level, parse_period(period).end)
    rows, withheld = queries.observations(engine, scope, key, gemeente=gemeente, period=period)
    rows = rows[rows["group"] == ""]
    frame = outlines.merge(rows[["subject", "value", "n"]], left_on="code", right_on="subject", how="left")
    frame["status"] = np.where(frame["value"].notna(), SHOWN,
                               np.where(frame["code"].isin(withheld["subject"]), WITHHELD, MISSING))
    frame["low"], frame["high"] = stats.intervals(frame["value"], frame["n"], registry.get(key).unit)
    return AreaValues(frame.drop(columns="subject"), int(frame["status"].eq(WITHHELD).sum()))


@cached
def school_values(engine, scope: Scope, gemeente: str, key: str, period: str, sector: str = "VO") -> AreaValues:
    """Every school of the gemeente with its value in one period, its interval (the margin of an
    estimated '<5' cell included), or the reason it has none; highest first."""
    schools = queries.schools(engine, scope, gemeente, sector)[["id", "name"]].rename(columns={"id": "code"})
    rows, withheld = queries.observations(engine, scope, key, gemeente=gemeente, period=period)
    frame = schools.merge(rows[["subject", "value", "n", "imputation_var"]], left_on="code", right_on="subject")
    frame = pd.concat([frame, schools[schools["code"].isin(withheld["subject"])]], ignore_index=True)
    frame["status"] = np.where(frame["value"].notna(), SHOWN, WITHHELD)
    frame["low"], frame["high"] = stats.intervals(frame["value"], frame["n"], registry.get(key).unit,
                                                  extras=frame["imputation_var"])
    frame = frame.sort_values(["value", "name"], ascending=[False, True], na_position="last")
    return AreaValues(frame.drop(columns=["subject", "imputation_var"]).reset_index(drop=True), len(withheld))


class Figure(NamedTuple):
    ind: registry.Indicator
    value: float
    low: float | None
    high: float | None
    n: int


def vo_gemeente_figures(engine, scope: Scope, gemeente: str, school_key: str, period: str) -> list[Figure]:
    """A vo-school figure for the gemeente as a whole: of the schools that stand in it, and the
    estimate for the pupils who live in it (where DUO's pupils by postcode are loaded)."""
    found = []
    for key in (school_key.replace("_pct", "_gemeente_pct"), school_key.replace("_pct", "_woon_pct")):
        rows = queries.observations(engine, scope, key, gemeente=gemeente, period=period).rows
        rows = rows[(rows["subject"] == gemeente) & rows["value"].notna()]
        if len(rows):
            row, ind = rows.iloc[0], registry.get(key)
            extra = 0.0 if pd.isna(row["imputation_var"]) else float(row["imputation_var"])
            low, high = stats.interval(row["value"], row["n"], ind.unit, extra=extra)
            found.append(Figure(ind, float(row["value"]), low, high, int(row["n"])))
    return found


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
        return (f"Twee perioden: of er een richting is, is nog niet te zeggen. Het verschil is "
                f"{formatting.with_margin(change.change, change.margin, ind.unit)}: {change.verdict}."
                if change else "")
    step = parse_period(registry.METHOD_BREAK).end
    line = stats.trend([parse_period(p).end for p in labels], own["value"], own["n"], ind.unit, step_from=step)
    if line is None:
        return ""
    crosses = registry.METHOD_BREAK in labels and labels[0] != registry.METHOD_BREAK
    return (f"Over {line.years} perioden ({labels[0]} tot {labels[-1]}) in {name}: {line.direction}, "
            f"{formatting.difference(line.slope, ind.unit)} per jaar (95 %: "
            f"{formatting.change_interval(line.low, line.high, ind.unit)} per jaar; een lijn door alle perioden, "
            "gewogen naar hun aantallen)."
            + (f" Vanaf {registry.METHOD_BREAK} schat DUO kleine aantallen ('<5'): de lijn neemt die methodebreuk "
               "apart mee, zodat ze niet als trend telt." if crosses else ""))


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
    """What a school's population leads one to expect over all schools of all gemeenten:
    y = a + b·(x − c) + q·(x − c)² + the effect of its school year (docs/statistiek.md)."""
    intercept: float
    slope: float
    curvature: float
    centre: float
    years: tuple[tuple[str, float], ...]  # school year → its effect, averaging to 0
    points: int
    r: float  # correlation of expected and observed
    spread: float = 0.0  # τ²: how much schools differ beyond chance around the line (stats.between_spread)
    dispersion: float = 1.0  # φ of the schools' year-to-year changes (stats.dispersion)

    def predict(self, x, period=None):
        """The expected value at population x; in ``period`` (a school year, or one per x), else
        at the average year (the line a chart draws)."""
        centred = np.asarray(x, dtype=float) - self.centre
        base = self.intercept + self.slope * centred + self.curvature * centred ** 2
        if period is None:
            return base
        effects = dict(self.years)
        periods = np.broadcast_to(np.asarray(period, dtype=object), base.shape)
        return base + np.array([effects.get(p, 0.0) for p in periods.ravel()], dtype=float).reshape(base.shape)


class SchoolPairs(NamedTuple):
    frame: pd.DataFrame  # id, name, code, period, x, y, n, low, high, expected, residual, limit95, limit998, position
    withheld: int
    fit: Fit | None
    note: str  # how the periods of x and y were matched, when not year by year


PAIR_COLUMNS = ["subject", "gemeente_code", "period", "x", "y", "n", "n_estimated", "imputation_var", "x_period",
                "x_estimated"]


def _per_brin(x: pd.DataFrame) -> pd.DataFrame:
    """A population figure of each vestiging made into one of its whole BRIN (pupil-weighted),
    for outcomes DUO publishes per BRIN: the hoofdvestiging's own population is not the one whose
    advice is counted."""
    x = x.dropna(subset=["value"]).assign(brin=lambda f: f["subject"].str[:4])
    weights = x["n"].fillna(1).clip(lower=1)
    grouped = x.assign(w=weights, wv=weights * x["value"], e=x["n_estimated"].fillna(0)).groupby(["brin", "period"],
                                                                                                 as_index=False)
    summed = grouped.agg(w=("w", "sum"), wv=("wv", "sum"), n=("n", "sum"), n_estimated=("e", "sum"))
    return summed.assign(value=summed["wv"] / summed["w"])[["brin", "period", "value", "n", "n_estimated"]]


def _pair(x: pd.DataFrame, y: pd.DataFrame, *, per_brin: bool = False) -> tuple[pd.DataFrame, str]:
    """Match the two indicators per school and school year.

    Some public figures exist for one year only (achterstandsscore: 2019-2020); then that one
    year stands for every year of the other indicator, and the view says so. For an outcome
    published per BRIN the population is that of the whole BRIN. n is the outcome's.
    """
    if x.empty or y.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS), ""
    y = y.assign(brin=y["subject"].str[:4])
    for column in ("n_estimated", "imputation_var"):
        if column not in y:
            y[column] = np.nan
    x = _per_brin(x).rename(columns={"brin": "key"}) if per_brin else x.rename(columns={"subject": "key"})
    # The share of the population figure's own pupils in DUO '<5' cells (% APCG from 2023-2024).
    x = x.assign(x_estimated=(x["n_estimated"].fillna(0) / x["n"].where(x["n"] > 0)).fillna(0.0)
                 if "n_estimated" in x else 0.0)
    x = x[["key", "period", "value", "x_estimated"]].rename(columns={"value": "x"})
    y = y.assign(key=y["brin"] if per_brin else y["subject"]).rename(columns={"value": "y"})
    note = ""
    if not set(x["period"]) & set(y["period"]) or (x["period"].nunique() == 1 and y["period"].nunique() > 1):
        latest = sort_periods(x["period"])[-1]
        x = x[x["period"] == latest].drop(columns="period").assign(x_period=latest)
        note = (f"De leerlingpopulatie (horizontale as van het spreidingsdiagram) is gemeten in {latest}; die "
                "waarde staat bij elk schooljaar van de uitkomst. Hoe verder een schooljaar van "
                f"{latest} af ligt, hoe meer de populatie veranderd kan zijn.")
        pairs = y.merge(x, on="key")
    else:
        pairs = y.merge(x.assign(x_period=x["period"]), on=["key", "period"])
    return pairs[PAIR_COLUMNS], note


def _design(pairs: pd.DataFrame, centre: float, years: list[str]) -> np.ndarray:
    centred = pairs["x"].to_numpy(float) - centre
    columns = [np.ones(len(pairs)), centred, centred ** 2]
    columns += [(pairs["period"] == year).to_numpy(float) for year in years[1:]]
    return np.column_stack(columns)


@cached
def expected_line(engine, x_key: str, y_key: str) -> Fit | None:
    """Weighted least squares over every school-year of every gemeente in the data: a curve
    (linear and quadratic term) in the population measure and an effect per school year.

    The quadratic term takes up the bend one straight line left in the residuals (city schools
    with the highest scores sat above it), the year effects the national drift of the advice
    (2020: +4 procentpunt). Only coefficients leave this function, so it reveals nothing of
    another gemeente's schools.
    """
    pairs, _ = _pair(queries.all_gemeenten(engine, x_key), queries.all_gemeenten(engine, y_key),
                     per_brin=registry.get(y_key).per_brin)
    pairs = pairs.dropna(subset=["x", "y"])
    if len(pairs) < 10 or pairs["x"].nunique() < 3:
        return None
    from statsmodels.regression.linear_model import WLS
    centre = float(np.average(pairs["x"], weights=pairs["n"].fillna(1).clip(lower=1)))
    years = sort_periods(pairs["period"].unique())
    fitted = WLS(pairs["y"].to_numpy(float), _design(pairs, centre, years),
                 weights=pairs["n"].fillna(1).clip(lower=1).to_numpy(float)).fit()
    params = fitted.params
    raw = {year: (params[2 + i] if i else 0.0) for i, year in enumerate(years)}
    mean_effect = float(np.mean(list(raw.values())))
    effects = tuple((year, float(value - mean_effect)) for year, value in raw.items())
    fit = Fit(float(params[0] + mean_effect), float(params[1]), float(params[2]), centre, effects, len(pairs), 0.0)
    unit = registry.get(y_key).unit
    expected = fit.predict(pairs["x"], pairs["period"].to_numpy(object))
    phi = queries.dispersion(engine, y_key, "school")
    chance = [(stats.variance(e, n, unit, phi=phi) or np.nan) + (0.0 if pd.isna(b) else b)
              for e, n, b in zip(expected, pairs["n"], pairs["imputation_var"])]
    spread = stats.between_spread(pairs["y"] - expected, chance)
    return fit._replace(r=float(np.corrcoef(expected, pairs["y"])[0, 1]), spread=spread, dispersion=phi)


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
    pairs, note = _pair(x.rows, y.rows, per_brin=registry.get(y_key).per_brin)
    withheld = pd.concat([x.withheld, y.withheld])[["subject", "period"]].drop_duplicates()
    frame = pairs.merge(names, left_on="subject", right_on="id").drop(columns=["subject", "gemeente_code"])
    fit = expected_line(engine, x_key, y_key)
    unit = registry.get(y_key).unit
    phi = fit.dispersion if fit else queries.dispersion(engine, y_key, "school")
    frame["low"], frame["high"] = stats.intervals(frame["y"], frame["n"], unit, phi=phi,
                                                  extras=frame["imputation_var"])
    frame["expected"] = fit.predict(frame["x"], frame["period"].to_numpy(object)) if fit else np.nan
    frame["residual"] = frame["y"] - frame["expected"]
    chance = np.array([np.nan if (v := stats.variance(e, n, unit, phi=phi)) is None else v + (0.0 if pd.isna(b) else b)
                       for e, n, b in zip(frame["expected"], frame["n"], frame["imputation_var"])], dtype=float)
    spread = fit.spread if fit else 0.0
    frame["limit95"], frame["limit998"] = (stats.funnel_limit(chance, spread, level) for level in stats.FUNNEL_LEVELS)
    frame["position"] = [funnel_position(r, a, b) for r, a, b in
                         zip(frame["residual"], frame["limit95"], frame["limit998"])]
    frame = frame.sort_values(["name", "period"]).reset_index(drop=True)
    frame["estimated_share"] = (frame["n_estimated"].fillna(0) / frame["n"].where(frame["n"] > 0)).fillna(0.0)
    return SchoolPairs(frame[["id", "name", "code", "period", "x", "y", "n", "low", "high", "expected", "residual",
                              "limit95", "limit998", "position", "estimated_share", "x_period", "x_estimated"]],
                       len(withheld), fit,
                       note)


def funnel_summary(frame: pd.DataFrame) -> str:
    """The funnel in one sentence, over exactly the school years it draws: how many school-years
    lie beyond the 95 % limit on each side, against what chance alone would put there (5 %)."""
    judged = frame[frame["position"] != ""]
    if judged.empty:
        return ""
    labels = sort_periods(judged["period"].unique())
    years = labels[0] if len(labels) == 1 else f"de {len(labels)} schooljaren {labels[0]} tot {labels[-1]}"
    above = int(judged["position"].isin(POSITIONS[:2]).sum())
    below = int(judged["position"].isin(POSITIONS[3:]).sum())
    return (f"In {years} liggen van de {len(judged)} punten (scholen per schooljaar) er {above} boven en {below} "
            f"onder de verwachting, buiten de 95 %-grens; door toeval alleen zouden dat er samen ongeveer "
            f"{formatting.number(0.05 * len(judged), 0)} zijn.")


def named_wijken(frame: pd.DataFrame) -> frozenset[str]:
    """The codes of the wijken a page's sentence about this frame names: the highest and the
    lowest value (:func:`level_summary`), or those that rose or fell beyond the margin
    (:func:`verdict_summary`); the projector's map labels them first."""
    if "verdict" in frame:
        return frozenset(frame.loc[frame["verdict"].isin(["gestegen", "gedaald"]), "code"])
    shown = frame[frame["status"] == SHOWN].dropna(subset=["value"])
    if shown.empty:
        return frozenset()
    return frozenset({shown.loc[shown["value"].idxmax(), "code"], shown.loc[shown["value"].idxmin(), "code"]})


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
