"""Highlights for the verdiepend gesprek: what stands out in one gemeente, each with the number
behind it and the view (as a link with its filters) that shows it.

Every figure comes from the same scoped and suppressed functions the views use, so a highlight
can never say more than its view would: a wijk or school withheld there is absent here too.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlencode

import pandas as pd

from . import analysis, formatting, queries, registry
from .periods import sort_periods
from .cache import cached
from .scope import Scope

AFSTROOM, OUDEROPLEIDING = "afstroom_pct", "havo_vwo_17_pct"
CONTEXT = ("bijstand_per_1000", "pct_niet_westers", "pct_0_14_jr", "ww_per_1000")  # in this order, when present


class Highlight(NamedTuple):
    question: int  # the gesprek question it answers first: 1 Wat gebeurt er?, 2 Hoe verklaren we dit?
    title: str
    text: str
    figure: str  # the number behind it, as the view shows it
    page: str  # the view, as its URL path
    params: dict
    table: pd.DataFrame | None = None

    @property
    def link(self) -> str:
        return f"{self.page}?{urlencode(self.params)}"


class Highlights(NamedTuple):
    items: list[Highlight]
    missing: list[str]  # what could not be computed, and why, in words for the page


def afstroom_rises(engine, scope: Scope, gemeente: str, top: int = 3) -> tuple[list[Highlight], list[str], list[str]]:
    """The wijken whose afstroom rose most between the two newest periods (only rises count),
    their codes, and a sentence when none rose."""
    ind = registry.get(AFSTROOM)
    latest = analysis.latest_change(engine, scope, gemeente, AFSTROOM)
    if latest is None:
        return [], [], []
    before, after, change = latest.before, latest.after, latest.values.frame
    rising = change[(change["status"] == analysis.SHOWN) & (change["change"] > 0)].head(top)
    params = {"gemeente": gemeente, "indicator": AFSTROOM, "van": before, "tot": after}
    return [Highlight(
        1, f"Afstroom gestegen in {row.name}",
        f"In {row.name} steeg de afstroom van {formatting.value(row.before, ind.unit)} ({before}) naar "
        f"{formatting.value(row.after, ind.unit)} ({after}), bij {formatting.number(row.n_after, 0)} leerlingen.",
        formatting.difference(row.change, ind.unit), "afstroom", params)
        for row in rising.itertuples()], list(rising["code"]), (
        [] if len(rising) else [f"In geen wijk steeg de afstroom van {before} naar {after}."])


def school_extremes(engine, scope: Scope, gemeente: str, *, pseudonyms: bool = False) -> list[Highlight]:
    """The schools furthest above and below what their pupil population leads one to expect, in
    the newest school year: toetsadvies against % APCG where the gemeente has those tables,
    else schooladvies against the public CBS achterstandsscore."""
    axes = analysis.school_axes(engine, scope, gemeente)
    if axes is None:
        return []
    x, y = registry.get(axes[0]), registry.get(axes[1])
    pairs = analysis.school_pairs(engine, scope, gemeente, x.key, y.key, pseudonyms=pseudonyms)
    frame = pairs.frame.dropna(subset=["residual"])
    if frame.empty:
        return []
    period = sort_periods(frame["period"])[-1]
    frame = frame[frame["period"] == period]
    found = []
    for row, above in ((frame.loc[frame["residual"].idxmax()], True), (frame.loc[frame["residual"].idxmin()], False)):
        if (row["residual"] > 0) != above:
            continue
        params = {"gemeente": gemeente, "indicator": y.key, "x": x.key, "jaren": period}
        if not pseudonyms:  # a vestiging id in the link would name the school
            params["school"] = row["id"]
        where = "boven" if above else "onder"
        found.append(Highlight(
            2, f"{row['name']}: het verst {where} de verwachting",
            f"{row['name']} had in {period} {formatting.in_sentence(y.label)} van {formatting.value(row['y'], y.unit)} "
            f"bij {formatting.in_sentence(x.label)} van {formatting.value(row['x'], x.unit)}; bij die "
            f"leerlingpopulatie is {formatting.value(row['expected'], y.unit)} te verwachten.",
            formatting.difference(row["residual"], y.unit), "scholen", params))
    return found


def schooladvies_trend(engine, scope: Scope, gemeente: str, name: str) -> list[Highlight]:
    """How the share of havo/vwo advice in the gemeente moved from the first to the newest
    school year (DUO open data), next to the same move over all gemeenten."""
    key = "schooladvies_havo_vwo_pct"
    labels = queries.periods(engine, scope, key, gemeente=gemeente)
    if len(labels) < 2:
        return []
    first, last = labels[0], labels[-1]
    ind = registry.get(key)
    here = {p: queries.weighted_mean(queries.observations(engine, scope, key, gemeente=gemeente, period=p).rows)
            for p in (first, last)}
    if None in here.values():
        return []
    change = here[last] - here[first]
    everywhere = [queries.reference(engine, scope, key, period=p) for p in (first, last)]
    against = ("" if None in everywhere else
               f" In alle gemeenten samen ging het van {formatting.value(everywhere[0], ind.unit)} naar "
               f"{formatting.value(everywhere[1], ind.unit)}.")
    return [Highlight(1, "Schooladvies havo/vwo door de jaren",
                      f"In {name} kreeg in {first} {formatting.value(here[first], ind.unit)} van de leerlingen in "
                      f"groep 8 een havo- of vwo-advies, in {last} {formatting.value(here[last], ind.unit)}."
                      + against, formatting.difference(change, ind.unit), "scholen",
                      {"gemeente": gemeente, "indicator": key})]


def ouderopleiding_gap(engine, scope: Scope, gemeente: str, name: str) -> list[Highlight]:
    if OUDEROPLEIDING not in queries.indicators_at(engine, scope, gemeente, "gemeente"):
        return []
    groups = analysis.by_group(engine, scope, gemeente, name, OUDEROPLEIDING)
    gap = analysis.latest_gap(groups, name)
    if gap is None:
        return []
    against = ("" if gap.gap_all is None else
               f" (alle gemeenten: {formatting.difference(gap.gap_all, 'pct', with_unit=False)})")
    return [Highlight(2, "Verschil naar opleiding van de ouders", analysis.gap_text(groups, name),
                      formatting.difference(gap.gap, "pct") + against, "ouderopleiding", {"gemeente": gemeente})]


def wijk_context(engine, scope: Scope, gemeente: str, wijken: list[str],
                 which: str = "waar de afstroom het meest steeg") -> list[Highlight]:
    """Context figures (CBS kerncijfers) of the given wijken next to the whole gemeente, so the
    room can ask whether a rise goes with, say, more benefits."""
    present = queries.indicators_at(engine, scope, gemeente, "wijk")
    keys = [k for k in CONTEXT if k in present]
    if not wijken or not keys:
        return []
    table, sentences, figures = {}, [], []
    for key in keys:
        ind = registry.get(key)
        period = queries.periods(engine, scope, key, gemeente=gemeente, level="wijk")[-1]
        values = analysis.area_values(engine, scope, gemeente, key, period).frame
        here = values[values["code"].isin(wijken)].set_index("code").reindex(wijken)
        whole = queries.observations(engine, scope, key, gemeente=gemeente, period=period).rows
        own = whole.loc[whole["subject"] == gemeente, "value"]
        reference = float(own.iloc[0]) if len(own) else queries.weighted_mean(whole[whole["subject"].str.startswith("WK")])
        header = f"{ind.label} {period}"
        table["Wijk"] = [*here["name"], "Hele gemeente"]
        table[header] = [*(formatting.value(v, ind.unit) for v in here["value"]), formatting.value(reference, ind.unit)]
        mean = here["value"].mean()
        if pd.notna(mean) and reference is not None:
            sentences.append(f"{formatting.in_sentence(ind.label)} gemiddeld {formatting.value(mean, ind.unit)} "
                             f"(gemeente {formatting.value(reference, ind.unit)})")
            figures.append(f"{formatting.value(mean, ind.unit)} (gemeente {formatting.value(reference, ind.unit)})")
    if not sentences:
        return []
    return [Highlight(2, "Context van deze wijken",
                      f"In de wijken {which}: " + "; ".join(sentences) + ".",
                      figures[0], "kaart", {"gemeente": gemeente, "indicator": keys[0]}, pd.DataFrame(table))]


def standout_wijken(engine, scope: Scope, gemeente: str, top: int = 3) -> list[str]:
    """The wijken with the most bijstand (else the first context figure loaded), for the context
    highlight when there is no afstroom to point at: where in the city poverty gathers."""
    present = queries.indicators_at(engine, scope, gemeente, "wijk")
    key = next((k for k in CONTEXT if k in present), None)
    if key is None:
        return []
    period = queries.periods(engine, scope, key, gemeente=gemeente, level="wijk")[-1]
    values = analysis.area_values(engine, scope, gemeente, key, period).frame
    return list(values[values["status"] == analysis.SHOWN].nlargest(top, "value")["code"])


@cached
def highlights(engine, scope: Scope, gemeente: str, name: str, *, pseudonyms: bool = False) -> Highlights:
    """Everything that stands out, cached like a read (scope and data version in the key)."""
    scope.check(gemeente)
    rises, wijken, missing = afstroom_rises(engine, scope, gemeente)
    context = (wijk_context(engine, scope, gemeente, wijken) if wijken else
               wijk_context(engine, scope, gemeente, standout_wijken(engine, scope, gemeente),
                            "met de meeste bijstandsuitkeringen"))
    items = [*rises, *schooladvies_trend(engine, scope, gemeente, name),
             *school_extremes(engine, scope, gemeente, pseudonyms=pseudonyms),
             *ouderopleiding_gap(engine, scope, gemeente, name), *context]
    for what, present in (("afstroom over twee perioden (maatwerktabel CBS/DUO)", rises or missing),
                          ("de leerlingpopulatie en uitkomsten per school", any(h.page == "scholen" for h in items)),
                          ("17-jarigen naar opleiding van de ouders (maatwerktabel CBS)",
                           any(h.page == "ouderopleiding" for h in items))):
        if not present:
            missing.append(f"Geen gegevens over {what} voor deze gemeente.")
    return Highlights(items, missing)
