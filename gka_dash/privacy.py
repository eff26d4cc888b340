"""Small-number suppression.

A value computed on fewer than ``threshold`` pupils is never shown, charted, mapped, exported or
used to colour a map (design §7). Suppression happens in the query layer, before any DataFrame
reaches a chart builder, so a builder cannot leak what it never receives.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from . import config

SUPPRESSED_REASON = "onderdrukt: minder dan {threshold} {noun}"
IDENTITY = ["subject", "gemeente_code", "period", "group"]


class Suppressed(NamedTuple):
    rows: pd.DataFrame  # rows that may be shown
    withheld: pd.DataFrame  # which cells were withheld: identity columns only, never value or n


def suppress(frame: pd.DataFrame, threshold: int | None = None) -> Suppressed:
    """Split off rows whose n is below the threshold.

    The withheld part keeps only the identity of each cell, so a view can say *that* a wijk's
    figure is withheld (grey on the map, a line in the table) without the figure travelling on.
    Rows without n (public CBS kerncijfers, flags) are kept: their source already suppressed.
    """
    threshold = threshold or config.suppression_threshold()
    small = frame["n"].notna() & (frame["n"] < threshold)
    identity = [c for c in IDENTITY if c in frame.columns]
    return Suppressed(frame.loc[~small].reset_index(drop=True),
                      frame.loc[small, identity].reset_index(drop=True))


def reason(noun: str = "leerlingen") -> str:
    return SUPPRESSED_REASON.format(threshold=config.suppression_threshold(), noun=noun)


def withheld_text(count: int, noun: str = "leerlingen") -> str:
    """The sentence every view shows under a figure that lost cells to suppression."""
    if not count:
        return ""
    values = "waarde" if count == 1 else "waarden"
    return f"{count} {values} niet getoond ({reason(noun)}), ter bescherming van de privacy."


# Disclosure control for references (design §7). A reference over "alle gemeenten" next to a
# user's own figures lets the user subtract: total minus what is in scope is what is not. And
# references seen *together* subtract from each other: "alle gemeenten" minus the peer group, or
# the peer group minus the GKA gemeenten, can be a single gemeente (issue #23). So the rule holds
# for the whole set of references a user can see for one figure (every comparison group of every
# gemeente in the scope): each part of the partition those groups cut the gemeenten outside the
# scope into must hold at least MIN_OTHERS gemeenten of which no DOMINANCE_N together hold more
# than DOMINANCE_K of the pupils (the (n, k)-dominance rule of statistical disclosure control).
# Groups are admitted in a fixed order of preference until the next would break the rule; a
# reference never carries its n, and its value leaves the server rounded as it is shown.
MIN_OTHERS = 3
DOMINANCE_N, DOMINANCE_K = 2, 0.85


def _part_safe(weights: pd.Series) -> bool:
    if len(weights) < MIN_OTHERS:
        return False
    return float(weights.nlargest(DOMINANCE_N).sum()) <= DOMINANCE_K * float(weights.sum())


def _parts_safe(weight: pd.Series, groups: list[frozenset]) -> bool:
    """Whether every part of the partition that ``groups`` cut the weighed gemeenten into is safe."""
    signature = pd.Series({code: tuple(code in g for g in groups) for code in weight.index}, dtype=object)
    signature = signature[[any(s) for s in signature]]
    return all(_part_safe(weight[codes]) for codes in signature.groupby(signature).groups.values())


def allowed_references(rows: pd.DataFrame, groups, scope) -> set:
    """Which of ``groups`` ((name, members): members None for all gemeenten) may be shown to a
    user with ``scope`` together, over ``rows`` (the shown rows of every gemeente for one figure)."""
    names = [name for name, _ in groups]
    if scope.is_everything:
        return set(names)  # nothing lies outside a beheerder's scope
    outside = rows[~rows["gemeente_code"].isin(scope.gemeenten)]
    weight = outside["n"].fillna(1).clip(lower=1).groupby(outside["gemeente_code"]).sum()
    kept, allowed = [], set()
    for name, members in groups:
        part = frozenset(weight.index) if members is None else frozenset(members) & frozenset(weight.index)
        if not part and members is not None and rows["gemeente_code"].isin(members).any():
            allowed.add(name)  # only gemeenten of the user's own scope: nothing to disclose
            continue
        if part and _parts_safe(weight, [*kept, part]):
            kept.append(part)
            allowed.add(name)
    return allowed


REFERENCE_WITHHELD = ("referentie niet getoond: te weinig andere gemeenten in de gegevens "
                      "(anders is uw eigen cijfer ervan af te trekken)")


def _letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: spreadsheet column letters, so any number of schools fits."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("A") + rest) + text
    return text


PSEUDONYM_GRID = 0.01  # degrees: about 1,1 km north-south, 0,7 km east-west in the Netherlands


def pseudonymise(schools: pd.DataFrame) -> pd.DataFrame:
    """Replace school names by School A, B, … in the order of their vestiging id.

    The order of ids does not change between views or sessions, so "School C" is the same school
    on every page of a meeting. The code and place, which would name the school as surely as its
    name, are blanked too, and the map point is moved to a grid of about a kilometre
    (:data:`PSEUDONYM_GRID`): on an exact point anyone who knows the street names the school.
    """
    ordered = schools.sort_values("id")
    names = dict(zip(ordered["id"], ["School " + _letters(i) for i in range(len(ordered))]))
    frame = schools.assign(name=schools["id"].map(names), code="", plaats=None)
    for column in ("lon", "lat"):
        if column in frame.columns:
            frame[column] = (pd.to_numeric(frame[column]) / PSEUDONYM_GRID).round() * PSEUDONYM_GRID
    return frame.sort_values("id").reset_index(drop=True)
