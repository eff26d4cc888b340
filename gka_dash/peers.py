"""Vergelijkbare gemeenten: the gemeenten most like one gemeente on public CBS context, so a key
figure can be read against gemeenten that face the same circumstances, not only against the
whole country (the way Waar staat je gemeente and Vensters compare).

The method, documented on screen and in docs/statistiek.md:
- features (CBS kerncijfers, public): inhabitants (on a log scale: Rotterdam is 100 times a
  village, and should not be 100 times as far away), stedelijkheid, bijstand per 1.000
  inhabitants, % with a non-western migration background, % aged 0-14; all of **one year**,
  the newest in which every feature is loaded (gemeente rows, else the inhabitant-weighted
  mean of the wijken), brought to today's gemeenten (:mod:`gka_dash.indeling`);
- standardised (z-scores), then **decorrelated**: the distance is the Mahalanobis distance
  (principal components scaled to unit variance, components of no variance dropped), so four
  features that measure one urbanity-and-deprivation dimension count once, not four times;
- the :data:`PEER_COUNT` nearest, ties broken by gemeente code, so the same data always gives
  the same group; each with its distance.

Pure computation: :mod:`gka_dash.queries` reads the features and calls :func:`nearest`.
Only public context decides who is a peer; the figures compared against a peer group pass the
same disclosure rule as every reference.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from scipy.stats import zscore

from . import registry

PEER_COUNT = 10
# (indicator, transform): what makes gemeenten alike for the outcomes this dashboard shows.
FEATURES = (("inwoners", np.log10), ("stedelijkheid", None), ("bijstand_per_1000", None),
            ("pct_niet_westers", None), ("pct_0_14_jr", None))


class Peers(NamedTuple):
    codes: list[str]  # nearest first
    features: list[str]  # the indicators they were chosen on
    candidates: int  # how many gemeenten had every feature
    distances: list[float]  # Mahalanobis distance of each, in the order of codes
    year: str = ""  # the one year of the features


def whitened(frame: pd.DataFrame) -> pd.DataFrame:
    """Gemeenten × decorrelated components of unit variance: Euclidean distance here is the
    Mahalanobis distance of the standardised features."""
    frame = frame.loc[:, frame.nunique() > 1].dropna()
    if len(frame) < 3 or frame.shape[1] == 0:
        return pd.DataFrame()
    standard = zscore(frame.to_numpy(float), axis=0)
    _, singular, axes = np.linalg.svd(standard, full_matrices=False)
    spread = singular / np.sqrt(len(standard))
    keep = spread > 1e-6 * spread.max()
    components = standard @ axes[keep].T / spread[keep]
    return pd.DataFrame(components, index=frame.index, columns=[f"pc{i + 1}" for i in range(keep.sum())]).sort_index()


def nearest(matrix: pd.DataFrame, gemeente: str, features: list[str], year: str,
            count: int = PEER_COUNT) -> Peers | None:
    if matrix.empty or gemeente not in matrix.index:
        return None
    others = matrix.drop(index=gemeente)
    distance = cdist(matrix.loc[[gemeente]].to_numpy(), others.to_numpy())[0]
    order = pd.DataFrame({"code": others.index, "distance": distance}).sort_values(["distance", "code"])
    top = order.head(min(count, len(order)))
    return Peers(list(top["code"]), features, len(matrix), [float(d) for d in top["distance"]], year)


def describe(found: Peers, names: dict[str, str]) -> str:
    """The peer group in words for the page: who they are, how far, and what they were chosen on."""
    features = ", ".join(registry.get(k).label.lower() for k in found.features)
    listed = ", ".join(f"{names.get(c, c)} ({str(round(d, 1)).replace('.', ',')})"
                       for c, d in zip(found.codes, found.distances))
    return (f"Vergelijkbare gemeenten: de {len(found.codes)} gemeenten die het meest lijken op grond van {features} "
            f"(CBS {found.year}, in de indeling van nu; gestandaardiseerd en ontdaan van hun onderlinge samenhang "
            f"over {found.candidates} gemeenten; tussen haakjes de afstand): {listed}.")
