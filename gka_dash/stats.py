"""Margins: how far a figure could lie from its value by chance alone, and whether a change, a
trend or a school's distance from expectation is more than that.

Every figure here is a count of a whole cohort (all pupils of a wijk, all 17-year-olds), not a
sample; the margin answers the question a meeting asks of it: would another cohort of the same
size, under the same circumstances, easily have given a different number? The computations are
statsmodels' and scipy's; this module only chooses the method and says why:

- a proportion (a share in % or per 1.000) gets a **Wilson score interval**, which stays inside
  0-100 % and keeps its coverage for small n and shares near 0 (Brown, Cai & DasGupta 2001);
- a change between two periods gets the **score interval of the difference** (Miettinen-Nurminen),
  and its p-value from the score test that interval inverts, so a change is "beyond the margin"
  exactly when its interval excludes zero;
- a mean (advies, standardised eindtoets score) gets a normal interval on an assumed spread of
  pupils within a school (:data:`PUPIL_SD`), because the sources give no per-school spread;
- a reference over all gemeenten or a peer group gets **no** interval: its width would reveal
  its n, and ``n`` of a reference minus one's own is another gemeente's (see privacy).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.regression.linear_model import WLS
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, test_proportions_2indep
from statsmodels.tools import add_constant

LEVEL = 0.95
# Funnel plot limits: the usual pair, about 2 and 3 standard errors (Spiegelhalter 2005).
FUNNEL_LEVELS = (0.95, 0.998)
# Units whose figure is a share of the counted people, and what 100 % is in that unit.
PROPORTION_SCALE = {"pct": 100.0, "per_1000": 1000.0}
# Spread of single pupils around their school's mean, for a mean's margin. Advies: the pooled
# within-school standard deviation of schooladviezen on the 1-6 scale, DUO 2019-2025 (all schools,
# 37.448 school-years; recomputed from the public file in tests/test_stats.py). Standardised
# eindtoets scores: 1 by construction.
PUPIL_SD = {"advies": 1.15, "z": 1.0}
BASIS = {
    "proportion": "Wilson-interval voor een aandeel",
    "mean": "normale benadering met een spreiding van {sd} tussen leerlingen van één school "
            "(advies: gemeten in de DUO-schooladviezen 2019-2025; eindtoets: 1 sd van leerlingen, per toets geschat uit de spreiding van de schoolgemiddelden)",
}


def kind(unit: str) -> str | None:
    """How a figure in this unit gets its margin: as a proportion, as a mean, or not at all
    (counts, densities, model scores such as the achterstandsscore, which has no sampling error
    the source describes)."""
    if unit in PROPORTION_SCALE:
        return "proportion"
    if unit in PUPIL_SD:
        return "mean"
    return None


def basis(unit: str) -> str:
    """What the margin of a figure in this unit rests on, in words for the page."""
    how = kind(unit)
    if how is None:
        return "geen marge: dit cijfer is geen aandeel of gemiddelde van leerlingen"
    return (BASIS[how].format(sd=str(PUPIL_SD.get(unit, "")).replace(".", ",")) + "; de marge telt ook de gewone "
            "schommeling tussen jaargangen mee (gemeten aan alle gemeenten en scholen) en, waar DUO kleine aantallen "
            "schatte, de onzekerheid van die schatting")


def _usable(value, n) -> bool:
    return value is not None and n is not None and not pd.isna(value) and not pd.isna(n) and n > 0


def _widened(centre: float, low: float, high: float, extra: float) -> tuple[float, float]:
    """An interval widened by an independent variance ``extra`` (the estimated cells' share of
    the uncertainty): each half-width h becomes √(h² + z²·extra)."""
    if not extra:
        return low, high
    add = z(LEVEL) ** 2 * extra
    return centre - math.sqrt((centre - low) ** 2 + add), centre + math.sqrt((high - centre) ** 2 + add)


def interval(value, n, unit: str, *, phi: float = 1.0, extra: float = 0.0) -> tuple[float, float] | tuple[None, None]:
    """The 95 % interval of one figure with its n, or (None, None) when it has none.

    ``phi`` is the dispersion (:func:`dispersion`): real cohorts vary more than independent
    draws, so the interval is that of n/φ pupils. ``extra``: the variance the estimation of
    masked cells adds (between imputations)."""
    how = kind(unit)
    if how is None or not _usable(value, n):
        return None, None
    effective = float(n) / max(phi, 1.0)
    if how == "proportion":
        scale = PROPORTION_SCALE[unit]
        share = min(max(float(value) / scale, 0.0), 1.0)
        low, high = proportion_confint(share * effective, effective, alpha=1 - LEVEL, method="wilson")
        low, high = _widened(share * scale, float(low) * scale, float(high) * scale, extra)
        return max(low, 0.0), min(high, scale)
    low, high = sps.norm.interval(LEVEL, loc=float(value), scale=PUPIL_SD[unit] / math.sqrt(effective))
    return _widened(float(value), float(low), float(high), extra)


def intervals(values, ns, unit: str, *, phi: float = 1.0, extras=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`interval` for two columns, as two float arrays (NaN where there is none)."""
    extras = [0.0] * len(values) if extras is None else [0.0 if pd.isna(e) else float(e) for e in extras]
    pairs = [interval(v, n, unit, phi=phi, extra=e) for v, n, e in zip(values, ns, extras)]
    return (np.array([np.nan if lo is None else lo for lo, _ in pairs], dtype=float),
            np.array([np.nan if hi is None else hi for _, hi in pairs], dtype=float))


class Difference(NamedTuple):
    change: float  # after minus before
    low: float
    high: float
    p: float  # two-sided, of "no change"

    @property
    def verdict(self) -> str:
        """The words a change may carry: a rise or fall only beyond the margin."""
        return "gestegen" if self.low > 0 else "gedaald" if self.high < 0 else "binnen de marge"

    @property
    def margin(self) -> float:
        """Half the interval's width, for "(marge ±0,8)"; the interval itself is not symmetric."""
        return (self.high - self.low) / 2

    @property
    def evidence(self) -> float:
        """How many standard errors from "no change" (the z of its p-value): what the gesprek
        ranks by, so 10 → 13 % on 3.000 pupils comes before 8 → 16 % on 40."""
        return float(sps.norm.isf(max(self.p, 1e-300) / 2))


def difference(before, n_before, after, n_after, unit: str, *, phi: float = 1.0,
               extra: float = 0.0) -> Difference | None:
    """The change from ``before`` to ``after`` with its 95 % interval and p-value, or None when
    either figure has no n or the unit no margin; ``phi`` and ``extra`` as in :func:`interval`
    (``extra``: both figures' estimation variance together). A change is "gestegen" only when
    it holds under all of that."""
    how = kind(unit)
    if how is None or not (_usable(before, n_before) and _usable(after, n_after)):
        return None
    n_before, n_after = float(n_before) / max(phi, 1.0), float(n_after) / max(phi, 1.0)
    if how == "proportion":
        scale = PROPORTION_SCALE[unit]
        counts = dict(count1=min(max(after / scale, 0), 1) * n_after, nobs1=float(n_after),
                      count2=min(max(before / scale, 0), 1) * n_before, nobs2=float(n_before))
        with np.errstate(invalid="ignore", divide="ignore"):
            try:
                low, high = confint_proportions_2indep(**counts, compare="diff", method="score", alpha=1 - LEVEL)
            except ValueError:  # the score inversion finds no root for a handful of pupils
                low, high = confint_proportions_2indep(**counts, compare="diff", method="newcomb", alpha=1 - LEVEL)
            p = test_proportions_2indep(**counts, compare="diff", method="score").pvalue
        # No p-value (a share of 0 % in both periods) is no evidence of a change.
        p = 1.0 if not np.isfinite(p) else float(p)
        change = float(after - before)
        low, high = _widened(change, float(low) * scale, float(high) * scale, extra)
        if extra:  # the p-value of the widened interval: z from its half-width on the side of zero
            half = (change - low) if change > 0 else (high - change)
            p = min(p, 1.0) if half <= 0 else float(2 * sps.norm.sf(abs(change) / (half / z(LEVEL))))
        return Difference(change, low, high, p)
    se = math.sqrt(PUPIL_SD[unit] ** 2 * (1 / n_before + 1 / n_after) + extra)
    change = float(after - before)
    low, high = sps.norm.interval(LEVEL, loc=change, scale=se)
    return Difference(change, float(low), float(high), float(2 * sps.norm.sf(abs(change) / se)))


def contrast(terms, unit: str) -> Difference | None:
    """A sum of figures with signs, e.g. a gap between two groups minus the same gap some years
    before, with a normal interval from the figures' own variances. ``terms``: (sign, value, n)."""
    variances = [variance(value, n, unit) for _, value, n in terms]
    if not terms or None in variances:
        return None
    estimate = float(sum(sign * value for sign, value, _ in terms))
    se = math.sqrt(sum(variances))
    low, high = sps.norm.interval(LEVEL, loc=estimate, scale=se)
    return Difference(estimate, float(low), float(high), float(2 * sps.norm.sf(abs(estimate) / se)))


def discoveries(pvalues, rate: float = 0.05) -> np.ndarray:
    """Which of many changes hold up once one looks at all of them together: Benjamini-Hochberg
    at a false discovery rate of 5 %. Of 40 wijken, two cross a 95 % line by chance alone; a
    highlight must not be one of them."""
    pvalues = np.asarray(pvalues, dtype=float)
    if not len(pvalues):
        return np.zeros(0, dtype=bool)
    return multipletests(pvalues, alpha=rate, method="fdr_bh")[0]


def variance(value, n, unit: str, *, phi: float = 1.0) -> float | None:
    """The variance of one figure from chance alone (times the dispersion φ), for weights and
    funnel limits."""
    how = kind(unit)
    if how is None or not _usable(value, n):
        return None
    n = float(n) / max(phi, 1.0)
    if how == "proportion":
        scale = PROPORTION_SCALE[unit]
        share = min(max(float(value) / scale, 0.0), 1.0)
        # A share of exactly 0 or 1 would claim no variance at all; half a pupil keeps it honest.
        share = min(max(share, 0.5 / n), 1 - 0.5 / n)
        return share * (1 - share) / float(n) * scale ** 2
    return PUPIL_SD[unit] ** 2 / float(n)


class Trend(NamedTuple):
    slope: float  # change per year
    low: float
    high: float
    years: int  # how many periods it rests on

    @property
    def direction(self) -> str:
        return "stijgend" if self.low > 0 else "dalend" if self.high < 0 else "geen duidelijke richting"


def dispersion(frame: pd.DataFrame, unit: str, *, min_n: int = 20) -> float:
    """How much more figures change from one period to the next than independent draws of
    their size would: φ, the quasi-binomial scale of the changes (McCullagh & Nelder 1989).

    ``frame``: one row per unit (gemeente, school, wijk) and period, with value, n and the
    estimation variance. Each consecutive pair of periods gives per unit the z of its change
    (the estimation variance counted in its denominator, so φ covers what is left); z is centred
    per pair, so a change of the whole country in one year (2020) is not taken for noise; φ is
    the Pearson scale, the mean of z², never below 1. Real local changes count too, which makes
    φ err on the wide side (the safe one for a claim of "gestegen"). Pupils of one cohort are not independent draws
    (classes, teachers, a year's intake), so the binomial margin alone is too narrow.
    """
    if kind(unit) is None or frame.empty:
        return 1.0
    rows = frame.assign(value=pd.to_numeric(frame["value"]), n=pd.to_numeric(frame["n"]))
    rows = rows[rows["n"].fillna(0) >= min_n].copy()
    chance = [variance(v, n, unit) or np.nan for v, n in zip(rows["value"], rows["n"])]
    estimated = pd.to_numeric(rows["imputation_var"]) if "imputation_var" in rows else 0.0
    rows["var"] = np.asarray(chance, dtype=float) + np.nan_to_num(np.asarray(estimated, dtype=float))
    from .periods import sort_periods
    labels = sort_periods(list(rows["period"].unique()))
    scores = []
    for first, second in zip(labels, labels[1:]):
        pair = rows[rows["period"] == first].merge(rows[rows["period"] == second], on="unit", suffixes=("_a", "_b"))
        zs = ((pair["value_b"] - pair["value_a"]) / np.sqrt(pair["var_a"] + pair["var_b"])).dropna()
        if len(zs) >= 10:
            scores.extend(zs - zs.median())
    if len(scores) < 30:
        return 1.0
    return max(1.0, float(np.mean(np.square(scores))))


def trend(years, values, ns, unit: str, *, step_from: int | None = None) -> Trend | None:
    """A straight line through the figures over the years, weighted by how precise each is
    (weighted least squares), with the 95 % interval of its slope from the t distribution; the
    scatter of the years around the line counts too, so a zigzag is not a trend. None for fewer
    than three periods: two points always lie on a line. ``step_from``: the first year of a new
    method at the source (DUO's '<5' estimates from 2022-2023); a level step there is taken up
    by a term of its own, so that the break is not read as a trend."""
    frame = pd.DataFrame({"x": years, "y": values, "n": ns}).dropna()
    weights = [1 / v if (v := variance(y, n, unit)) else np.nan for y, n in zip(frame["y"], frame["n"])]
    frame = frame.assign(w=weights).dropna()
    if len(frame) < 3 or frame["x"].nunique() < 3:
        return None
    design = add_constant(frame["x"].to_numpy(float))
    after = frame["x"].to_numpy(float) >= step_from if step_from is not None else None
    if after is not None and after.sum() >= 2 and (~after).sum() >= 2 and len(frame) >= 5:
        design = np.column_stack([design, after.astype(float)])
    fit = WLS(frame["y"].to_numpy(float), design, weights=frame["w"]).fit()
    low, high = fit.conf_int(alpha=1 - LEVEL)[1]
    return Trend(float(fit.params[1]), float(low), float(high), len(frame))


def between_spread(residuals, variances) -> float:
    """How much schools differ beyond chance (the between-school variance τ², DerSimonian-Laird):
    schools really do differ in more than their intake, and funnel limits that ignore it call a
    third of all schools remarkable (Spiegelhalter 2005, "overdispersion")."""
    residuals, variances = np.asarray(residuals, dtype=float), np.asarray(variances, dtype=float)
    keep = np.isfinite(residuals) & np.isfinite(variances) & (variances > 0)
    if keep.sum() < 3:
        return 0.0
    return float(combine_effects(residuals[keep], variances[keep], method_re="dl").tau2)


def z(level: float) -> float:
    """Standard errors on either side that hold ``level`` of the normal distribution (1,96 for 95 %)."""
    return float(sps.norm.ppf(0.5 + level / 2))


def funnel_limit(variance_of_chance, spread: float, level: float) -> np.ndarray:
    """The distance from expectation within which ``level`` of schools of this size fall."""
    return z(level) * np.sqrt(np.asarray(variance_of_chance, dtype=float) + spread)
