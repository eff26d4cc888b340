"""Small-number suppression.

A value computed on fewer than ``threshold`` pupils is never shown, charted, mapped, exported or
used to colour a map (design §7). Suppression happens in the query layer, before any DataFrame
reaches a chart builder, so a builder cannot leak what it never receives.
"""

from __future__ import annotations

import pandas as pd

from . import config

SUPPRESSED_REASON = "onderdrukt: minder dan {threshold} leerlingen"


def suppress(frame: pd.DataFrame, threshold: int | None = None) -> tuple[pd.DataFrame, int]:
    """Drop rows whose n is below the threshold; return the kept rows and how many were withheld.

    Rows without n (public CBS kerncijfers, flags) are kept: their source already suppressed.
    """
    threshold = threshold or config.suppression_threshold()
    if frame.empty or "n" not in frame.columns:
        return frame, 0
    small = frame["n"].notna() & (frame["n"] < threshold)
    return frame.loc[~small].reset_index(drop=True), int(small.sum())


def reason(threshold: int | None = None) -> str:
    return SUPPRESSED_REASON.format(threshold=threshold or config.suppression_threshold())

