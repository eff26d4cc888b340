"""Every read the pages need. Each takes a Scope and filters by it in SQL, and every indicator
read passes through suppression before it is returned, so no page can show what it never gets."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
from sqlalchemy import func, select

from . import config, formatting, geometry, privacy, registry, stats
from . import indeling
from . import peers as peer_groups
from .periods import sort_periods
from .schema import area, dataset, observation, school
from .cache import cached
from .scope import Scope


SUBJECT_PREFIX = {"wijk": "WK", "gemeente": "GM", "buurt": "BU"}
OBSERVATION_FIELDS = ["subject", "gemeente_code", "period", "group", "value", "n", "n_estimated", "imputation_var"]


def _in_scope(column, scope: Scope):
    return True if scope.is_everything else column.in_(sorted(scope.gemeenten))


@cached
def gemeenten(engine, scope: Scope) -> pd.DataFrame:
    """Gemeenten the user may choose, newest name first; from areas, else from school lists."""
    query = (select(area.c.code, area.c.name, func.max(area.c.year).label("year"))
             .where(area.c.level == "gemeente", _in_scope(area.c.code, scope))
             .group_by(area.c.code, area.c.name))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=["code", "name", "year"])
        # Gemeenten with data but no area of their own: formed after the newest layer (school
        # figures carry today's codes: Het Hogeland, Eemsdelta), or no areas loaded at all.
        codes = conn.execute(select(observation.c.gemeente_code).distinct()
                             .where(_in_scope(observation.c.gemeente_code, scope))).scalars().all()
    made = indeling.current_names()
    extra = [c for c in codes if c not in set(frame["code"])]
    frame = pd.concat([frame, pd.DataFrame({"code": extra, "name": [made.get(c, c) for c in extra], "year": 0})],
                      ignore_index=True)
    frame = frame.sort_values("year").drop_duplicates("code", keep="last")
    return frame.sort_values("name").reset_index(drop=True)[["code", "name"]]


@cached
def observations(engine, scope: Scope, key: str, *, gemeente: str | None = None,
                 period: str | None = None) -> privacy.Suppressed:
    """Observations of one indicator in the scope, split into what may be shown and what is withheld."""
    if gemeente is not None:
        scope.check(gemeente)
    query = select(observation.c.subject, observation.c.gemeente_code, observation.c.period,
                   observation.c.group, observation.c.value, observation.c.n, observation.c.n_estimated,
                   observation.c.imputation_var).where(
        observation.c.indicator_key == key, _in_scope(observation.c.gemeente_code, scope))
    if gemeente is not None:
        query = query.where(observation.c.gemeente_code == gemeente)
    if period is not None:
        query = query.where(observation.c.period == period)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=OBSERVATION_FIELDS)
    return privacy.suppress(frame, max(config.suppression_threshold(), registry.get(key).min_n))


def level_values(engine, scope: Scope, key: str, level: str, *, gemeente: str | None = None) -> pd.Series:
    """Every shown value of one level (all periods): what a map's classes span, so the
    gemeente's own total (600.000 inhabitants) does not stretch the classes of its wijken."""
    rows = observations(engine, scope, key, gemeente=gemeente).rows
    return rows.loc[rows["subject"].str.startswith(SUBJECT_PREFIX[level]), "value"]


def all_gemeenten(engine, key: str, *, period: str | None = None) -> pd.DataFrame:
    """Every gemeente's shown rows, for fits over all schools only (the expected-toetsadvies
    line): callers reduce it to coefficients that reveal no single area, and it has already
    lost every suppressed cell. Figures shown as a reference go through :func:`reference`."""
    return observations(engine, Scope.everything(), key, period=period).rows


@cached
def gemeente_names(engine, codes: tuple[str, ...]) -> dict[str, str]:
    """Names of gemeenten, newest vintage: public CBS names, for naming a peer group."""
    query = (select(area.c.code, area.c.name).where(area.c.level == "gemeente", area.c.code.in_(codes))
             .order_by(area.c.year))
    with engine.connect() as conn:
        found = {code: name for code, name in conn.execute(query).all()}
    made = indeling.current_names()  # gemeenten formed after the newest area layer loaded
    return {**{c: made[c] for c in codes if c in made}, **found}


@cached
def gka_gemeenten(engine) -> tuple[str, ...]:
    """The gemeenten of the Gelijke Kansen Alliantie, as loaded (public list, see registry)."""
    query = select(observation.c.subject).distinct().where(observation.c.indicator_key == "gka_gemeente",
                                                           observation.c.value == 1)
    with engine.connect() as conn:
        return tuple(sorted(conn.execute(query).scalars()))


def _reference_rows(engine, key: str, period: str | None, level: str | None, group: str | None) -> pd.DataFrame:
    rows = all_gemeenten(engine, key, period=period)
    if level is not None:
        rows = rows[rows["subject"].str.startswith(SUBJECT_PREFIX[level])]
    if group is not None:
        rows = rows[rows["group"] == group]
    return rows


@cached
def _visible_groups(engine, scope: Scope) -> tuple[tuple[tuple[str, str | None], tuple[str, ...] | None], ...]:
    """Every reference group a user of this scope can see on some page, in order of preference:
    all gemeenten first, then per gemeente of the scope its GKA group and its peer group."""
    groups = [(("all_gemeenten", None), None)]
    for gemeente in sorted(scope.gemeenten or ()):
        groups += [((name, gemeente), among) for name, among in _comparisons(engine, gemeente).items()
                   if name != "all_gemeenten"]
    return tuple(groups)


@cached
def _allowed(engine, scope: Scope, key: str, period: str | None, level: str | None, group: str | None) -> frozenset:
    rows = _reference_rows(engine, key, period, level, group)
    return frozenset(privacy.allowed_references(rows, list(_visible_groups(engine, scope)), scope))


@cached
def reference(engine, scope: Scope, key: str, *, period: str | None = None, level: str | None = None,
              group: str | None = None, name: str = "all_gemeenten", gemeente: str | None = None) -> float | None:
    """The pupil-weighted mean over all gemeenten in the data (``name`` "gka" or "peers": over
    that comparison group of ``gemeente``), rounded as it is shown, or None when the disclosure
    rule over everything this scope can see together (:func:`privacy.allowed_references`)
    forbids it. ``level`` keeps rows of one kind of subject (wijk, gemeente; None: all, as for
    schools) so a gemeente's total is not counted again with its own wijken."""
    rows = _reference_rows(engine, key, period, level, group)
    if name != "all_gemeenten":
        if gemeente is None:
            raise ValueError("a comparison group needs its gemeente")
        among = _comparisons(engine, gemeente).get(name)
        rows = rows[rows["gemeente_code"].isin(among or ())]
    owner = None if name == "all_gemeenten" else gemeente
    if scope.is_everything:
        allowed = True
    else:
        allowed = (name, owner) in _allowed(engine, scope, key, period, level, group)
    if rows.empty or not allowed:
        return None
    value = weighted_mean(rows)
    return None if value is None else round(value, formatting.DECIMALS.get(registry.get(key).unit, 1))


@cached
def periods(engine, scope: Scope, key: str, *, gemeente: str | None = None, level: str | None = None) -> list[str]:
    """The periods with data; ``level`` (wijk, gemeente) only those with data at that level, so
    a wijk map is not offered a year that only the gemeente layer has."""
    query = select(observation.c.period).distinct().where(
        observation.c.indicator_key == key, _in_scope(observation.c.gemeente_code, scope))
    if gemeente is not None:
        query = query.where(observation.c.gemeente_code == scope.check(gemeente))
    if level is not None:
        query = query.where(observation.c.subject.like(SUBJECT_PREFIX[level] + "%"))
    with engine.connect() as conn:
        return sort_periods(conn.execute(query).scalars().all())


@cached
def indicators_at(engine, scope: Scope, gemeente: str | None, level: str, *, whole: bool = False) -> list[str]:
    """The indicators this gemeente (None: any gemeente in the scope) has data for at one level
    (wijk, school, gemeente), in registry order, so a view offers only choices that lead to a
    figure; ``whole``: only those with a figure for the area as a whole, not just per group,
    as a map needs."""
    def ours(column):
        return column == scope.check(gemeente) if gemeente is not None else _in_scope(column, scope)

    query = select(observation.c.indicator_key).distinct().where(ours(observation.c.gemeente_code))
    if whole:
        query = query.where(observation.c.group == "")
    if level == "school":
        query = query.where(observation.c.subject.in_(select(school.c.id).where(ours(school.c.gemeente_code))))
    else:
        query = query.where(observation.c.subject.like(SUBJECT_PREFIX[level] + "%"))
    with engine.connect() as conn:
        present = set(conn.execute(query).scalars())
    return [key for key in registry.INDICATORS if key in present]


class Estimation(NamedTuple):
    """How much of an aggregate rests on cells the source estimated (DUO '<5')."""
    share: float  # of its pupils, 0-1
    variance: float  # what the estimation adds to the aggregate's variance


def estimation(frame: pd.DataFrame) -> Estimation:
    """Of a pupil-weighted mean over ``frame`` (see :func:`weighted_mean`): the share of pupils in
    estimated cells, and the variance between imputations of the mean, Σ (nᵢ/N)² Bᵢ (schools
    imputed independently)."""
    rows = frame.dropna(subset=["value"])
    if rows.empty or "n_estimated" not in rows or not rows["n"].notna().all() or rows["n"].sum() <= 0:
        return Estimation(0.0, 0.0)
    total = float(rows["n"].sum())
    share = float(rows["n_estimated"].fillna(0).sum()) / total
    variance = float(((rows["n"] / total) ** 2 * rows["imputation_var"].fillna(0)).sum())
    return Estimation(min(share, 1.0), variance)


def weighted_mean(frame: pd.DataFrame) -> float | None:
    """Mean weighted by n (pupils), over rows that survived suppression."""
    rows = frame.dropna(subset=["value"])
    if rows.empty:
        return None
    if rows["n"].notna().all() and rows["n"].sum() > 0:
        return float((rows["value"] * rows["n"]).sum() / rows["n"].sum())
    return float(rows["value"].mean())


# What Overzicht shows, in this order, when the gemeente has it: the restricted figures first,
# then the public DUO/CBS school figures, then the CBS context of the wijken.
KEY_FIGURES = (("afstroom_pct", ""), ("opstroom_pct", ""), ("vo_afstroom_woon_pct", ""), ("vo_afstroom_gemeente_pct", ""),
               ("vo_opstroom_gemeente_pct", ""), ("toetsadvies_gem", ""), ("apcg_pct", ""),
               ("havo_vwo_17_pct", "laag"), ("havo_vwo_17_pct", "hoog"),
               ("schooladvies_havo_vwo_pct", ""), ("schooladvies_gem", ""), ("eindtoets_gem", ""),
               ("achterstandsscore_per_100", ""),
               ("bijstand_per_1000", ""), ("pct_niet_westers", ""), ("pct_0_14_jr", ""), ("ww_per_1000", ""))
SECTIONS = {"wijk": "Onderwijs", "school": "Onderwijs", "gemeente": "Onderwijs", "area": "Wijken en bevolking (CBS)"}


def _figure_level(engine, scope: Scope, gemeente: str, ind: registry.Indicator) -> str | None:
    """Which rows make the gemeente's figure: its schools (None), its wijken, or its own row;
    a CBS kerncijfer comes from the gemeente's own row where the gemeente layer is loaded."""
    if ind.level == "school":
        return None
    if ind.level == "area":
        return "gemeente" if periods(engine, scope, ind.key, gemeente=gemeente, level="gemeente") else "wijk"
    return ind.level


def _comparisons(engine, gemeente: str) -> dict[str, tuple[str, ...] | None]:
    """The groups a gemeente's figures are read against: all gemeenten (None), the other GKA
    gemeenten and the peer group; a group that is not loaded is left out."""
    gka = tuple(g for g in gka_gemeenten(engine) if g != gemeente)
    found = peers(engine, gemeente)
    groups = {"all_gemeenten": None, "gka": gka, "peers": tuple(found.codes) if found else ()}
    return {name: among for name, among in groups.items() if among != ()}


def _own(engine, scope: Scope, gemeente: str, ind: registry.Indicator, group: str, level: str | None,
         period: str) -> tuple[pd.DataFrame, pd.DataFrame, int | None]:
    """The rows that make the gemeente's figure in one period (shown, withheld) and their n:
    the pupils counted, none for CBS kerncijfers (inhabitants are no sample of a share)."""
    shown, withheld = observations(engine, scope, ind.key, gemeente=gemeente, period=period)
    if level is not None:
        shown = shown[shown["subject"].str.startswith(SUBJECT_PREFIX[level])]
        withheld = withheld[withheld["subject"].str.startswith(SUBJECT_PREFIX[level])]
    shown, withheld = shown[shown["group"] == group], withheld[withheld["group"] == group]
    n = int(shown["n"].sum()) if shown["n"].notna().any() and ind.level != "area" else None
    return shown, withheld, n


@cached
def key_figures(engine, scope: Scope, gemeente: str) -> list[dict]:
    """The figures Overzicht shows, from whatever is loaded, each with its 95 % interval, the
    change since the previous period with the interval of that change, and the references a
    reader needs: all gemeenten, the GKA gemeenten and the peer group (each under the disclosure
    rule, without n or margin: either would let one subtract one's own figure)."""
    scope.check(gemeente)
    comparisons = _comparisons(engine, gemeente)
    figures = []
    for key, group in KEY_FIGURES:
        ind = registry.get(key)
        level = _figure_level(engine, scope, gemeente, ind)
        labels = periods(engine, scope, key, gemeente=gemeente, level=level)
        if not labels:
            continue
        latest, previous = labels[-1], (labels[-2] if len(labels) > 1 else None)
        here, withheld, n = _own(engine, scope, gemeente, ind, group, level, latest)
        value = weighted_mean(here)
        if value is None:
            continue
        before, _, n_before = _own(engine, scope, gemeente, ind, group, level, previous) if previous else (None,) * 3
        previous_value = weighted_mean(before) if previous else None
        phi = dispersion(engine, key, level or "gemeente")
        now, then = estimation(here), (estimation(before) if previous else Estimation(0.0, 0.0))
        if now.share >= ESTIMATED_WITHHELD:
            figures.append({"key": key, "group": group, "label": f"Havo/vwo 17-jarigen, ouders {group}" if group
                            else ind.label, "section": SECTIONS[ind.level], "period": latest, "unit": ind.unit,
                            "too_estimated": now.share, "source": ind.source})
            continue
        low, high = stats.interval(value, n, ind.unit, phi=phi, extra=now.variance)
        figures.append({
            "key": key, "group": group, "unit": ind.unit,
            "label": f"Havo/vwo 17-jarigen, ouders {group}" if group else ind.label,
            "section": SECTIONS[ind.level], "period": latest, "value": value, "n": n, "low": low, "high": high,
            **{name: reference(engine, scope, key, period=latest, level=level, group=group, name=name,
                               gemeente=gemeente) for name in comparisons},
            "previous_period": previous, "previous": previous_value,
            "change": (stats.difference(previous_value, n_before, value, n, ind.unit, phi=phi,
                                        extra=now.variance + then.variance)
                       if previous_value is not None else None),
            "estimated_share": now.share, "indicative": now.share >= ESTIMATED_INDICATIVE, "dispersion": phi,
            "method_break": crosses_method_break(previous, latest) if previous else False,
            "withheld": len(withheld), "higher_is_better": ind.higher_is_better, "source": ind.source,
        })
    return figures


# A figure of which at least this share of pupils sits in cells the source estimated is shown as
# indicative; from the second share on it is withheld: most of it would be the estimate, not the count.
ESTIMATED_INDICATIVE, ESTIMATED_WITHHELD = 0.25, 0.5
METHOD_BREAK = registry.METHOD_BREAK


def crosses_method_break(first: str, last: str) -> bool:
    """Whether a comparison from ``first`` to ``last`` spans the start of DUO's masking."""
    return sort_periods([first, METHOD_BREAK])[0] == first != METHOD_BREAK and sort_periods([last, METHOD_BREAK])[-1] == last


@cached
def dispersion(engine, key: str, level: str) -> float:
    """φ of this indicator at this level (gemeente, school, wijk), from the period-to-period
    changes of every unit in the data (:func:`stats.dispersion`); 1 where there is too little."""
    ind = registry.get(key)
    rows = all_gemeenten(engine, key)
    rows = rows[rows["group"] == ""]
    if level == "wijk":
        units = rows[rows["subject"].str.startswith("WK")].rename(columns={"subject": "unit"})
    elif level == "school":
        units = rows[~rows["subject"].str[:2].isin(list(SUBJECT_PREFIX.values()))].rename(columns={"subject": "unit"})
    else:
        own = rows[rows["subject"].str.startswith("GM")]
        if own.empty:  # school figures: each gemeente as the pupil-weighted sum of its schools
            schools = rows[~rows["subject"].str[:2].isin(list(SUBJECT_PREFIX.values()))]
            grouped = schools.dropna(subset=["value", "n"]).groupby(["gemeente_code", "period"])
            own = pd.DataFrame([{"subject": g, "period": p, "value": weighted_mean(part), "n": part["n"].sum(),
                                 "imputation_var": estimation(part).variance}
                                for (g, p), part in grouped])
        units = own.rename(columns={"subject": "unit"})
    if units.empty:
        return 1.0
    return stats.dispersion(units, ind.unit)


@cached
def series(engine, scope: Scope, gemeente: str, key: str, group: str = "") -> pd.DataFrame:
    """One key figure over every loaded period: the gemeente (``where`` "gemeente") with its
    interval, and the references named as in :func:`key_figures` where the disclosure rule
    allows them."""
    scope.check(gemeente)
    ind = registry.get(key)
    level = _figure_level(engine, scope, gemeente, ind)
    comparisons = _comparisons(engine, gemeente)
    records = []
    for period in periods(engine, scope, key, gemeente=gemeente, level=level):
        rows, _, n = _own(engine, scope, gemeente, ind, group, level, period)
        value = weighted_mean(rows)
        found = estimation(rows)
        low, high = stats.interval(value, n, ind.unit, phi=dispersion(engine, key, level or "gemeente"),
                                   extra=found.variance)
        if found.share >= ESTIMATED_WITHHELD:
            value = low = high = None
        records.append({"period": period, "where": "gemeente", "value": value, "n": n, "low": low, "high": high,
                        "estimated_share": found.share})
        for name in comparisons:
            value = reference(engine, scope, key, period=period, level=level, group=group, name=name,
                              gemeente=gemeente)
            records.append({"period": period, "where": name, "value": value, "n": None, "low": None, "high": None,
                            "estimated_share": None})
    frame = pd.DataFrame(records, columns=["period", "where", "value", "n", "low", "high", "estimated_share"])
    return frame.dropna(subset=["value"]).reset_index(drop=True)


def _feature_years(engine, key: str) -> dict[str, pd.DataFrame]:
    """Per year the rows that give this feature per gemeente: its own rows, else its wijken."""
    rows = all_gemeenten(engine, key)
    rows = rows[rows["group"] == ""]
    found = {}
    for level in ("gemeente", "wijk"):
        part = rows[rows["subject"].str.startswith(SUBJECT_PREFIX[level])]
        for period, frame in part.groupby("period"):
            found.setdefault(period, frame.assign(level=level))
    return found


def _feature(key: str, rows: pd.DataFrame, inhabitants: pd.Series | None) -> pd.Series:
    """One value per gemeente of today (:mod:`indeling`): a count summed, a rate weighted by
    inhabitants over the gemeenten (or wijken) that make it up; split gemeenten left out."""
    rows = rows.dropna(subset=["value"])
    if rows["level"].iloc[0] == "gemeente":
        rows = rows.assign(gemeente_code=rows["subject"])
    weights = (rows["n"] if rows["level"].iloc[0] == "wijk" else
               rows["gemeente_code"].map(inhabitants) if inhabitants is not None else None)
    rows = rows.assign(now=rows["gemeente_code"].map(indeling.current),
                       w=pd.Series(1.0, index=rows.index) if weights is None else weights.fillna(1).clip(lower=1))
    rows = rows.dropna(subset=["now"])
    if key == "inwoners":
        return rows.groupby("now")["value"].sum().astype(float)
    totals = (rows["value"].astype(float) * rows["w"]).groupby(rows["now"]).sum()
    return (totals / rows["w"].groupby(rows["now"]).sum()).astype(float)


@cached
def context_matrix(engine) -> tuple[pd.DataFrame, list[str], str]:
    """Today's gemeenten × decorrelated context (peers.whitened), from the newest year in which
    every feature that is loaded at all exists; with the features used and that year."""
    available = {key: _feature_years(engine, key) for key, _ in peer_groups.FEATURES}
    available = {key: years for key, years in available.items() if years}
    common = set.intersection(*(set(years) for years in available.values())) if available else set()
    if not common:
        return pd.DataFrame(), [], ""
    year = sort_periods(list(common))[-1]
    inhabitants = None
    if "inwoners" in available:
        own = available["inwoners"][year]
        inhabitants = (own.set_index("subject")["value"].astype(float) if own["level"].iloc[0] == "gemeente"
                       else own.groupby("gemeente_code")["value"].sum().astype(float))
    columns = {}
    for key, transform in peer_groups.FEATURES:
        if key in available:
            values = _feature(key, available[key][year], inhabitants)
            columns[key] = transform(values.clip(lower=1)) if transform is not None else values
    matrix = peer_groups.whitened(pd.DataFrame(columns))
    return matrix, [k for k in columns if k in pd.DataFrame(columns).dropna().columns], year


@cached
def peers(engine, gemeente: str, count: int = peer_groups.PEER_COUNT) -> peer_groups.Peers | None:
    """The gemeenten most like this one, nearest first; None when the context is not loaded.
    A deterministic function of public data: it takes no scope, and reveals nothing restricted."""
    matrix, features, year = context_matrix(engine)
    return peer_groups.nearest(matrix, indeling.current(gemeente) or gemeente, features, year, count)


@cached
def counts(engine, scope: Scope, gemeente: str) -> dict[str, int]:
    scope.check(gemeente)
    with engine.connect() as conn:
        wijken = conn.execute(select(func.count(func.distinct(area.c.code))).where(
            area.c.level == "wijk", area.c.gemeente_code == gemeente)).scalar()
        schools = conn.execute(select(func.count()).where(
            school.c.gemeente_code == gemeente, school.c.sector == "PO")).scalar()
    return {"wijken": wijken, "PO-scholen": schools}


@cached
def loaded_datasets(engine, scope: Scope, gemeente: str) -> pd.DataFrame:
    """Which imports hold data of this gemeente, with their periods and whether synthetic."""
    scope.check(gemeente)
    query = (select(dataset.c.name, dataset.c.kind, dataset.c.synthetic, dataset.c.imported_at,
                    observation.c.indicator_key, func.min(observation.c.period_start).label("start"),
                    func.max(observation.c.period_end).label("end"))
             .join(observation, observation.c.dataset_id == dataset.c.id)
             .where(observation.c.gemeente_code == gemeente)
             .group_by(dataset.c.name, dataset.c.kind, dataset.c.synthetic, dataset.c.imported_at,
                       observation.c.indicator_key))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["dataset", "kind", "synthetic", "imported_at", "indicator", "start", "end"])
    frame["indicator"] = frame["indicator"].map(lambda k: registry.get(k).label)
    frame["periode"] = [f"{s}" if s == e else f"{s}-{e}" for s, e in zip(frame.start, frame.end)]
    return frame


@cached
def areas(engine, scope: Scope, gemeente: str | None, level: str = "wijk", year: int | None = None) -> pd.DataFrame:
    """The areas of one gemeente, or of every gemeente in the scope (None), in one vintage, with
    GeoJSON outlines (WGS84) simplified for a map that shows them all: the vintage of ``year``
    where it is loaded, else the newest not later than it, else the oldest (a figure of 2017 is
    coded in the wijk indeling of 2017); without a year the newest.

    CBS renumbers and redraws wijken between years; one vintage per view keeps a map from
    showing two generations of the same wijk on top of each other.
    """
    where = [area.c.level == level]
    if gemeente is None:
        where.append(_in_scope(area.c.gemeente_code, scope))
    else:
        where.append(area.c.gemeente_code == scope.check(gemeente))
    with engine.connect() as conn:
        vintages = conn.execute(select(area.c.year).distinct().where(*where)).scalars().all()
        year = _vintage(sorted(vintages), year)
        rows = conn.execute(select(area.c.code, area.c.name, area.c.gemeente_code, area.c.geometry)
                            .where(*where, area.c.year == year).order_by(area.c.code)).all()
    frame = pd.DataFrame(rows, columns=["code", "name", "gemeente_code", "geometry"])
    frame["geometry"] = geometry.for_map(list(frame["geometry"]), geometry.DETAIL_PX if gemeente else
                                         geometry.NATIONAL_DETAIL_PX)
    return frame


def _vintage(vintages: list[int], year: int | None) -> int | None:
    if not vintages:
        return None
    if year is None:
        return vintages[-1]
    earlier = [v for v in vintages if v <= year]
    return earlier[-1] if earlier else vintages[0]


@cached
def schools(engine, scope: Scope, gemeente: str, sector: str = "PO", *, pseudonyms: bool = False) -> pd.DataFrame:
    """The schools of one gemeente; ``code`` is what a view may show to identify a vestiging
    (its id, or nothing when the names are pseudonyms)."""
    scope.check(gemeente)
    query = (select(school.c.id, school.c.name, school.c.plaats, school.c.lon, school.c.lat,
                    school.c.wijk_code)
             .where(school.c.gemeente_code == gemeente, school.c.sector == sector)
             .order_by(school.c.name, school.c.id))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=["id", "name", "plaats", "lon", "lat", "wijk_code"])
    return privacy.pseudonymise(frame) if pseudonyms else frame.assign(code=frame["id"])


def school_gemeente(engine, school_id: str) -> str | None:
    """Which gemeente a school belongs to, so a link to it can be checked against the scope
    before anything of the school is read."""
    with engine.connect() as conn:
        return conn.execute(select(school.c.gemeente_code).where(school.c.id == school_id)).scalar()
