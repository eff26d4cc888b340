"""A chart's data as plain series, for a renderer that is not Vega: the native PowerPoint charts
of the slides, which staff restyle in their own template (issue #24).

Built by the report from the same suppressed rows as the altair chart beside it, so the two can
show nothing different.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from . import formatting, registry
from .analysis import ALL_GEMEENTEN, Fit
from .charts import OKABE_ITO
from .periods import sort_periods

GREY, INK = "#9A9A9A", "#333333"


class Series(NamedTuple):
    name: str
    points: list[tuple]  # (x, y); on a category chart x is the category
    colour: str
    line: bool = False  # drawn as a line (else as markers only)
    dashed: bool = False
    markers: bool = True


class Plot(NamedTuple):
    kind: str  # "xy": both axes numbers (a scatter); "lines": categories along x (years)
    series: list[Series]
    x_title: str
    y_title: str
    y_range: tuple[float, float] | None = None
    decimals: int = 1
    x_range: tuple[float, float] | None = None  # "xy" only


def schools(pairs: pd.DataFrame, x_ind: registry.Indicator, y_ind: registry.Indicator, fit: Fit | None) -> Plot:
    """Every school-year as a point and the expected line, as on Scholen (no school singled out:
    a deck is shown to schools too)."""
    rows = pairs.dropna(subset=["x", "y"])
    found = [Series("Scholen (per schooljaar)", list(zip(rows["x"].astype(float), rows["y"].astype(float))), GREY)]
    if fit is not None and len(rows):
        grid = np.linspace(float(rows["x"].min()), float(rows["x"].max()), 20)
        found.append(Series("Verwacht bij deze leerlingpopulatie", list(zip(grid, fit.predict(grid))), INK,
                            line=True, dashed=True, markers=False))
    low, high = registry.UNITS[x_ind.unit][:2]
    x_range = ((low, high) if high is not None and len(rows) else
               (float(np.floor(rows["x"].min())), float(np.ceil(rows["x"].max()))) if len(rows) else None)
    return Plot("xy", found, registry.axis_title(x_ind), registry.axis_title(y_ind),
                decimals=formatting.DECIMALS.get(y_ind.unit, 1), x_range=x_range)


def groups(frame: pd.DataFrame, ind: registry.Indicator, name: str, colours: dict[str, str]) -> Plot:
    """One line per ouderopleiding group, the gemeente solid and all gemeenten dashed."""
    found = []
    for where in (name, ALL_GEMEENTEN):
        for group in registry.OUDEROPLEIDING_GROUPS:
            rows = frame[(frame["where"] == where) & (frame["group"] == group)].sort_values("period")
            if len(rows):
                found.append(Series(f"ouders {group} — {where}", list(zip(rows["period"].astype(str), rows["value"])),
                                    colours[group], line=True, dashed=where == ALL_GEMEENTEN,
                                    markers=where != ALL_GEMEENTEN))
    return Plot("lines", found, "Jaar", registry.axis_title(ind), (0.0, 100.0), decimals=0)


def follow_up(frame: pd.DataFrame, ind: registry.Indicator, baseline_period: str) -> Plot:
    """An afspraak's figure in every loaded period with its 95 % bounds, and the baseline marked:
    the screen's follow-up chart (``charts.follow_up``) for the slides."""
    rows = frame.set_index("period").loc[sort_periods(frame["period"])].reset_index()
    found = [Series(ind.label, list(zip(rows["period"], rows["value"])), OKABE_ITO[0], line=True)]  # as on screen
    bounded = rows.dropna(subset=["low", "high"])
    if len(bounded):
        found += [Series("95 %-marge, onder", list(zip(bounded["period"], bounded["low"])), GREY, line=True,
                         dashed=True, markers=False),
                  Series("95 %-marge, boven", list(zip(bounded["period"], bounded["high"])), GREY, line=True,
                         dashed=True, markers=False)]
    start = rows[rows["period"] == baseline_period]
    if len(start):
        found.append(Series("Beginwaarde bij de afspraak", [(baseline_period, float(start["value"].iloc[0]))], INK))
    return Plot("lines", found, "Periode", registry.axis_title(ind), decimals=formatting.DECIMALS.get(ind.unit, 1))
