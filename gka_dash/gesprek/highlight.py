"""Highlights for the verdiepend gesprek: what stands out in one gemeente, each with the number
behind it and the view (as a link with its filters) that shows it.

Every figure comes from the same scoped and suppressed functions the views use, so a highlight
can never say more than its view would: a wijk or school withheld there is absent here too.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from .. import analysis, formatting, queries, registry, stats
from ..cache import cached
from ..periods import parse_period, sort_periods
from ..scope import Scope

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
    evidence: float = 0.0  # standard errors from "nothing to see" (stats.Difference.evidence); 0: context
    subject: str = ""  # the wijk (or gemeente) whose figure an afspraak on this point would follow; "": none
    subject_name: str = ""

    @property
    def number(self) -> str:
        """The figure's number alone, to set large; :attr:`detail` is its margin and reference."""
        return self.figure.partition(" (")[0]

    @property
    def detail(self) -> str:
        rest = self.figure.partition(" (")[2]
        return "(" + rest if rest else ""

    @property
    def link(self) -> str:
        return f"{self.page}?{urlencode(self.params)}"


class Highlights(NamedTuple):
    items: list[Highlight]
    missing: list[str]  # what could not be computed, and why, in words for the page


# How the highlights guard against chance with many wijken or schools (see docs/statistiek.md):
# wijk changes must hold after Benjamini-Hochberg over all wijken of the gemeente (5 % false
# discoveries); a school must lie beyond the 99,8 % funnel limit, or beyond the 95 % limit on
# the same side in at least two school years, and pass the checks of NAMING_* below.
MAX_RISES, MAX_FALLS = 3, 2


def _trend_sentence(engine, scope: Scope, gemeente: str, key: str, subject: str, unit: str) -> str:
    """Whether the newest change continues a line over every loaded period, in words."""
    rows = queries.observations(engine, scope, key, gemeente=gemeente).rows
    rows = rows[(rows["subject"] == subject) & (rows["group"] == "")]
    labels = sort_periods(rows["period"])
    if len(labels) < 3:
        return (f" Er {'zijn' if len(labels) != 1 else 'is'} {len(labels)} perioden geladen; of dit een "
                "doorgaande lijn is, is nog niet te zeggen.")
    rows = rows.set_index("period").loc[labels]
    found = stats.trend([parse_period(p).end for p in labels], rows["value"], rows["n"], unit)
    if found is None:
        return ""
    if found.direction == "geen duidelijke richting":
        return f" Over alle {found.years} perioden samen is er geen duidelijke richting."
    return (f" Dat past in een {found.direction} lijn over {found.years} perioden "
            f"({formatting.difference(found.slope, unit)} per jaar).")


def afstroom_changes(engine, scope: Scope, gemeente: str) -> tuple[list[Highlight], list[str], list[str]]:
    """The wijken whose afstroom changed beyond chance between the two newest periods, most
    evidence first (rises, then falls), their codes, and what the page should say when none did.

    Ranked by evidence, not size: 8 → 16 % on 40 pupils is within the margin, 10 → 13 % on
    3.000 is not. Only changes that survive Benjamini-Hochberg over all wijken count.
    """
    ind = registry.get(AFSTROOM)
    latest = analysis.latest_change(engine, scope, gemeente, AFSTROOM)
    if latest is None:
        return [], [], []
    before, after, change = latest.before, latest.after, latest.values.frame
    tested = change[(change["status"] == analysis.SHOWN) & change["change_p"].notna()].copy()
    tested["real"] = stats.discoveries(tested["change_p"])
    tested["evidence"] = [stats.Difference(c, lo, hi, p).evidence for c, lo, hi, p in
                          zip(tested["change"], tested["change_low"], tested["change_high"], tested["change_p"])]
    real = tested[tested["real"]].sort_values(["evidence", "name"], ascending=[False, True])
    rising, falling = real[real["change"] > 0].head(MAX_RISES), real[real["change"] < 0].head(MAX_FALLS)
    params = {"gemeente": gemeente, "indicator": AFSTROOM, "van": before, "tot": after}
    found = []
    for row in pd.concat([rising, falling]).itertuples():
        word = "steeg" if row.change > 0 else "daalde"
        found.append(Highlight(
            1, f"Afstroom {'gestegen' if row.change > 0 else 'gedaald'} in {row.name}",
            f"In {row.name} {word} de afstroom van {formatting.value(row.before, ind.unit)} ({before}, "
            f"{formatting.number(row.n_before, 0)} leerlingen) naar {formatting.value(row.after, ind.unit)} ({after}, "
            f"{formatting.number(row.n_after, 0)} leerlingen): meer dan toeval verklaart, ook als alle "
            f"{len(tested)} wijken samen bekeken worden."
            + _trend_sentence(engine, scope, gemeente, AFSTROOM, row.code, ind.unit),
            formatting.with_margin(row.change, (row.change_high - row.change_low) / 2, ind.unit),
            "afstroom", params, evidence=row.evidence, subject=row.code, subject_name=row.name))
    notes = []
    if not len(real) and len(tested):
        notes.append(f"In geen van de {len(tested)} wijken veranderde de afstroom van {before} naar {after} meer "
                     "dan toeval kan verklaren (alle wijken samen getoetst); de verschillen in de tabel bij "
                     "Afstroom vallen binnen de marge.")
    return found, list(rising["code"]), notes


def _years_outside(frame: pd.DataFrame, school_id: str, side: int) -> tuple[int, int]:
    """In how many of the school's years it lay beyond the 95 % limit on this side, of how many."""
    own = frame[frame["id"] == school_id]
    beyond = (own["residual"] * side > own["limit95"]).sum()
    return int(beyond), len(own)


# A school is named in a meeting only when its figure is its own (docs/statistiek.md): at most
# this share of its pupils in estimated cells, an outcome cohort that did not halve or double
# since the year its population was measured nor since the year before, and a BRIN that the
# advice file does not give another school's name.
NAMING_MAX_ESTIMATED = 0.25
NAMING_MAX_SIZE_RATIO = 2.0


def _why_not_named(frame: pd.DataFrame, row, checks: pd.DataFrame) -> str:
    """'' when a school-year may be named; else what stands in the way, in words."""
    own = frame[frame["id"] == row.id].set_index("period")
    if row.estimated_share > NAMING_MAX_ESTIMATED:
        return (f"{formatting.number(row.estimated_share * 100, 0)} % van de leerlingen in dat schooljaar zit in "
                "door DUO geschatte cellen ('<5')")
    labels = sort_periods(own.index)
    at = labels.index(row.period)
    for other in [p for p in (row.x_period, labels[at - 1] if at else None) if p in own.index and p != row.period]:
        ratio = float(row.n) / float(own.at[other, "n"]) if own.at[other, "n"] else np.inf
        if not 1 / NAMING_MAX_SIZE_RATIO <= ratio <= NAMING_MAX_SIZE_RATIO:
            return (f"het aantal leerlingen ging van {formatting.number(own.at[other, 'n'], 0)} in {other} naar "
                    f"{formatting.number(row.n, 0)}: een andere groep dan die waarop de verwachting rust")
    if row.id in set(checks.loc[checks["value"] == 1, "subject"]):
        return "het adviezenbestand geeft het BRIN-nummer de naam van een andere school"
    return ""


def school_extremes(engine, scope: Scope, gemeente: str, *, pseudonyms: bool = False) -> tuple[list[Highlight], list[str]]:
    """The schools that in the newest school year lie beyond the funnel's limits of what their
    pupil population leads one to expect, most evidence first, and a sentence when none does:
    toetsadvies against % APCG where the gemeente has those tables, else schooladvies against
    the public CBS achterstandsscore. A school beyond the limits whose figure is not its own
    (estimated cells, a broken cohort, a renamed BRIN) stays an unnamed point in the funnel."""
    axes = analysis.school_axes(engine, scope, gemeente)
    if axes is None:
        return [], []
    x, y = registry.get(axes[0]), registry.get(axes[1])
    pairs = analysis.school_pairs(engine, scope, gemeente, x.key, y.key, pseudonyms=pseudonyms)
    frame = pairs.frame.dropna(subset=["residual", "limit95"])
    if frame.empty:
        return [], []
    period = sort_periods(frame["period"])[-1]
    checks = queries.observations(engine, scope, "schooladvies_andere_naam", gemeente=gemeente, period=period).rows
    latest = frame[frame["period"] == period].assign(
        evidence=lambda f: (f["residual"] / f["limit95"]).abs() * stats.z(stats.FUNNEL_LEVELS[0]))
    found, unnamed = [], []
    for above in (True, False):
        side = 1 if above else -1
        beyond = latest[latest["residual"] * side > latest["limit95"]]
        for row in beyond.sort_values(["evidence", "name"], ascending=[False, True]).itertuples():
            years, of = _years_outside(frame, row.id, side)
            far = abs(row.residual) > row.limit998
            if not (far or years >= 2):
                continue
            obstacle = _why_not_named(frame, row, checks)
            if obstacle:
                unnamed.append(obstacle)
                continue
            params = {"gemeente": gemeente, "indicator": y.key, "x": x.key, "jaren": period}
            if not pseudonyms:  # a vestiging id in the link would name the school
                params["school"] = row.id
            word = "hoger" if above else "lager"
            limit = (f"buiten de 99,8 %-grens van de trechter in {period}" if far
                     else f"buiten de 95 %-grens van de trechter in {period}")
            repeat = (f"; buiten de 95 %-grens aan dezelfde kant in {years} van de {of} schooljaren" if of > 1 else "")
            found.append(Highlight(
                2, f"{row.name}: {word} dan verwacht",
                f"{row.name} had in {period} een {formatting.in_sentence(y.label)} van "
                f"{formatting.value(row.y, y.unit)}, bij {_population(x, row.x)} (gemeten in {row.x_period}). "
                f"Bij die leerlingpopulatie is in "
                f"{period} {formatting.value(row.expected, y.unit)} te verwachten. Het verschil is groter dan "
                f"toeval en de gewone spreiding tussen scholen verklaren ({limit}{repeat}).",
                formatting.with_margin(row.residual, row.limit95, y.unit), "scholen", params, evidence=row.evidence))
            break  # one school per side: the strongest
    notes = []
    if unnamed:
        notes.append(f"{len(unnamed)} {'school lag' if len(unnamed) == 1 else 'scholen lagen'} in {period} buiten de "
                     f"grens maar {'wordt' if len(unnamed) == 1 else 'worden'} niet genoemd, omdat het cijfer niet "
                     "zeker van die school zelf is: " + "; ".join(dict.fromkeys(unnamed)) + ".")
    if not found and not unnamed:
        notes.append(f"Geen school lag in {period} verder van de verwachting dan toeval en de gewone spreiding "
                     "tussen scholen verklaren (zie de trechter bij Scholen).")
    return found, notes


def schooladvies_trend(engine, scope: Scope, gemeente: str, name: str) -> list[Highlight]:
    """How the share of havo-or-higher advice in the gemeente moved over every loaded school year
    (DUO open data): the change from first to newest with its margin (dispersion and estimated
    cells counted), whether the years form a line (with the method break of 2022-2023 taken up),
    and whether the gemeente moved differently from all gemeenten together."""
    key = "schooladvies_havo_vwo_pct"
    labels = queries.periods(engine, scope, key, gemeente=gemeente)
    if len(labels) < 2:
        return []
    ind = registry.get(key)
    yearly = {p: queries.observations(engine, scope, key, gemeente=gemeente, period=p).rows for p in labels}
    here = {p: (queries.weighted_mean(rows), rows["n"].sum() if rows["n"].notna().any() else None,
                queries.estimation(rows)) for p, rows in yearly.items()}
    first, last = labels[0], labels[-1]
    if here[first][0] is None or here[last][0] is None or here[last][2].share >= queries.ESTIMATED_WITHHELD:
        return []
    phi = queries.dispersion(engine, key, "gemeente")
    change = stats.difference(here[first][0], here[first][1], here[last][0], here[last][1], ind.unit, phi=phi,
                              extra=here[first][2].variance + here[last][2].variance)
    step = parse_period(queries.METHOD_BREAK).start
    line = stats.trend([parse_period(p).end for p in labels], [here[p][0] for p in labels],
                       [here[p][1] for p in labels], ind.unit, step_from=step + 1)
    everywhere = [queries.reference(engine, scope, key, period=p) for p in (first, last)]
    text = (f"In {name} kreeg in {first} {formatting.value(here[first][0], ind.unit)} van de leerlingen in "
            f"groep 8 een schooladvies havo of hoger, in {last} {formatting.value(here[last][0], ind.unit)}")
    text += (f": {formatting.with_margin(change.change, change.margin, ind.unit)}, {change.verdict}." if change
             else ".")
    if line is not None:
        text += (f" Over alle {line.years} schooljaren van {first} tot {last}: {line.direction} "
                 f"({formatting.difference(line.slope, ind.unit)} per jaar, 95 %: "
                 f"{formatting.change_interval(line.low, line.high, ind.unit)} per jaar).")
    if None not in everywhere and change is not None:
        national = everywhere[1] - everywhere[0]
        apart = change.change - national
        text += (f" In alle gemeenten samen ging het in die jaren van {formatting.value(everywhere[0], ind.unit)} naar "
                 f"{formatting.value(everywhere[1], ind.unit)} ({formatting.difference(national, ind.unit)}); "
                 + (f"{name} beweegt daarmee mee (het verschil, {formatting.difference(apart, ind.unit)}, valt "
                    "binnen de marge)." if abs(apart) <= change.margin else
                    f"{name} ging {formatting.difference(apart, ind.unit)} anders dan het land, meer dan de marge."))
    estimated = here[last][2].share
    if queries.crosses_method_break(first, last) or estimated:
        text += (f" Let op: vanaf {queries.METHOD_BREAK} schrijft DUO aantallen van 1 tot 4 als '<5'; in {last} zit "
                 f"{formatting.number(estimated * 100, 0)} % van de leerlingen in zulke geschatte cellen. De marge "
                 "telt die schatting mee; de vergelijking met de jaren ervoor overbrugt een methodebreuk.")
    figure = (formatting.with_margin(change.change, change.margin, ind.unit) if change
              else formatting.difference(here[last][0] - here[first][0], ind.unit))
    return [Highlight(1, "Schooladvies havo of hoger door de jaren", text, figure, "scholen",
                      {"gemeente": gemeente, "indicator": key}, evidence=change.evidence if change else 0.0,
                      subject=gemeente, subject_name=name)]


def ouderopleiding_gap(engine, scope: Scope, gemeente: str, name: str) -> list[Highlight]:
    if OUDEROPLEIDING not in queries.indicators_at(engine, scope, gemeente, "gemeente"):
        return []
    groups = analysis.by_group(engine, scope, gemeente, name, OUDEROPLEIDING)
    gap = analysis.latest_gap(groups, name)
    if gap is None:
        return []
    against = ("" if gap.gap_all is None else
               f" (alle gemeenten: {formatting.difference(gap.gap_all, 'pct', with_unit=False)})")
    figure = (formatting.with_margin(gap.gap, gap.margin.margin, "pct") if gap.margin
              else formatting.difference(gap.gap, "pct"))
    return [Highlight(2, "Verschil naar opleiding van de ouders", analysis.gap_text(groups, name),
                      figure + against, "ouderopleiding", {"gemeente": gemeente, "indicator": OUDEROPLEIDING},
                      evidence=gap.margin.evidence if gap.margin else 0.0, subject=gemeente, subject_name=name)]


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
            sentences.append(f"{formatting.in_sentence(ind.label)} in {period} gemiddeld "
                             f"{formatting.value(mean, ind.unit)} (hele gemeente {formatting.value(reference, ind.unit)})")
            figures.append(f"{formatting.value(mean, ind.unit)} in {period} (gemeente "
                           f"{formatting.value(reference, ind.unit)})")
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
    """Everything that stands out, most evidence first within each question, cached like a read
    (scope and data version in the key). Context comes last: it explains, it is not a finding."""
    scope.check(gemeente)
    changes, wijken, missing = afstroom_changes(engine, scope, gemeente)
    context = (wijk_context(engine, scope, gemeente, wijken) if wijken else
               wijk_context(engine, scope, gemeente, standout_wijken(engine, scope, gemeente),
                            "met de meeste bijstandsuitkeringen"))
    schools, school_notes = school_extremes(engine, scope, gemeente, pseudonyms=pseudonyms)
    findings = [*changes, *schooladvies_trend(engine, scope, gemeente, name), *schools,
                *ouderopleiding_gap(engine, scope, gemeente, name)]
    items = sorted(findings, key=lambda h: (h.question, -h.evidence)) + context
    missing += school_notes
    for what, present in (("afstroom over twee perioden (maatwerktabel CBS/DUO)",
                           analysis.latest_change(engine, scope, gemeente, AFSTROOM) is not None),
                          ("de leerlingpopulatie en uitkomsten per school",
                           any(h.page == "scholen" for h in items) or school_notes),
                          ("17-jarigen naar opleiding van de ouders (maatwerktabel CBS)",
                           any(h.page == "ouderopleiding" for h in items))):
        if not present:
            missing.append(f"Geen gegevens over {what} voor deze gemeente.")
    return Highlights(items, missing)


def _population(x: registry.Indicator, value: float) -> str:
    """A school's population figure inside a sentence: "72,9 % leerlingen uit APCG" for a share,
    "een achterstandsscore van 7,2" for a score."""
    if x.unit == "pct":
        return f"{formatting.value(value, x.unit)} {formatting.in_sentence(x.label)}"
    return f"een {formatting.in_sentence(x.label)} van {formatting.value(value, x.unit)}"
