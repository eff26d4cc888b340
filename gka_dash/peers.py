"""Vergelijkbare gemeenten: the gemeenten most like one gemeente on public CBS context, so a key
figure can be read against gemeenten that face the same circumstances, not only against the
whole country (the way Waar staat je gemeente and Vensters compare).

The method, documented on screen and in docs/statistiek.md:
- features (CBS kerncijfers, public): inhabitants (on a log scale: Rotterdam is 100 times a
  village, and should not be 100 times as far away), stedelijkheid, bijstand per 1.000
  inhabitants, % with a non-western migration background, % aged 0-14; each from the gemeente's
  own row of the CBS gemeente layer, else the inhabitant-weighted mean of its wijken;
- each feature standardised over all gemeenten that have every feature (z-scores, scipy);
- the :data:`PEER_COUNT` nearest by Euclidean distance, ties broken by gemeente code, so the
  same data always gives the same group.

Only public context decides who is a peer; the figures compared against a peer group pass the
same disclosure rule as every reference (queries.reference).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from scipy.stats import zscore

from . import queries, registry
from .cache import cached
from .periods import sort_periods

PEER_COUNT = 10
# (indicator, transform): what makes gemeenten alike for the outcomes this dashboard shows.
FEATURES = (("inwoners", np.log10), ("stedelijkheid", None), ("bijstand_per_1000", None),
            ("pct_niet_westers", None), ("pct_0_14_jr", None))


class Peers(NamedTuple):
    codes: list[str]  # nearest first
    features: list[str]  # the indicators they were chosen on
    candidates: int  # how many gemeenten had every feature


def _feature(engine, key: str) -> pd.Series:
    """One value per gemeente: its own row in the newest period that has gemeente rows, else the
    inhabitant-weighted mean (or, for inhabitants, the sum) of its wijken."""
    rows = queries.all_gemeenten(engine, key)
    rows = rows[rows["group"] == ""]
    own = rows[rows["subject"].str.startswith("GM")]
    if len(own):
        latest = sort_periods(own["period"])[-1]
        return own[own["period"] == latest].set_index("subject")["value"].astype(float)
    wijken = rows[rows["subject"].str.startswith("WK")]
    if wijken.empty:
        return pd.Series(dtype=float)
    wijken = wijken[wijken["period"] == sort_periods(wijken["period"])[-1]].dropna(subset=["value"])
    if key == "inwoners":
        return wijken.groupby("gemeente_code")["value"].sum().astype(float)
    weights = wijken["n"].fillna(1).clip(lower=1).astype(float)
    totals = (wijken["value"] * weights).groupby(wijken["gemeente_code"]).sum()
    return (totals / weights.groupby(wijken["gemeente_code"]).sum()).astype(float)


@cached
def context_matrix(engine) -> pd.DataFrame:
    """Gemeenten × standardised features, only gemeenten with every feature that exists at all."""
    columns = {}
    for key, transform in FEATURES:
        values = _feature(engine, key)
        if len(values):
            columns[key] = transform(values.clip(lower=1)) if transform is not None else values
    frame = pd.DataFrame(columns).dropna()
    frame = frame.loc[:, frame.nunique() > 1]
    if len(frame) < 2 or frame.shape[1] == 0:
        return pd.DataFrame()
    return pd.DataFrame(zscore(frame.to_numpy(float), axis=0), index=frame.index, columns=frame.columns).sort_index()


@cached
def peers(engine, gemeente: str, count: int = PEER_COUNT) -> Peers | None:
    """The gemeenten most like this one, nearest first; None when the context is not loaded.
    A deterministic function of public data: it takes no scope, and reveals nothing restricted."""
    matrix = context_matrix(engine)
    if matrix.empty or gemeente not in matrix.index:
        return None
    others = matrix.drop(index=gemeente)
    distance = cdist(matrix.loc[[gemeente]].to_numpy(), others.to_numpy())[0]
    order = pd.DataFrame({"code": others.index, "distance": distance}).sort_values(["distance", "code"])
    return Peers(list(order["code"].head(min(count, len(order)))), list(matrix.columns), len(matrix))


def describe(engine, found: Peers) -> str:
    """The peer group in words for the page: who they are and what they were chosen on."""
    names = queries.gemeente_names(engine, tuple(found.codes))
    features = ", ".join(registry.get(k).label.lower() for k in found.features)
    return (f"Vergelijkbare gemeenten: de {len(found.codes)} gemeenten die het meest lijken op grond van {features} "
            f"(CBS, gestandaardiseerd over {found.candidates} gemeenten): "
            + ", ".join(names.get(c, c) for c in found.codes) + ".")
