"""Every read the pages need. Each takes a Scope and filters by it in SQL, and every indicator
read passes through suppression before it is returned, so no page can show what it never gets."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from . import geometry, privacy, registry
from .periods import sort_periods
from .schema import area, dataset, observation, school
from .cache import cached
from .scope import Scope


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
        if frame.empty:
            codes = conn.execute(select(observation.c.gemeente_code).distinct()
                                 .where(_in_scope(observation.c.gemeente_code, scope))).scalars().all()
            frame = pd.DataFrame({"code": codes, "name": codes, "year": 0})
    frame = frame.sort_values("year").drop_duplicates("code", keep="last")
    return frame.sort_values("name").reset_index(drop=True)[["code", "name"]]


@cached
def observations(engine, scope: Scope, key: str, *, gemeente: str | None = None,
                 period: str | None = None) -> privacy.Suppressed:
    """Observations of one indicator in the scope, split into what may be shown and what is withheld."""
    if gemeente is not None:
        scope.check(gemeente)
    query = select(observation.c.subject, observation.c.gemeente_code, observation.c.period,
                   observation.c.group, observation.c.value, observation.c.n).where(
        observation.c.indicator_key == key, _in_scope(observation.c.gemeente_code, scope))
    if gemeente is not None:
        query = query.where(observation.c.gemeente_code == gemeente)
    if period is not None:
        query = query.where(observation.c.period == period)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(),
                             columns=["subject", "gemeente_code", "period", "group", "value", "n"])
    return privacy.suppress(frame)


def all_gemeenten(engine, key: str, *, period: str | None = None) -> pd.DataFrame:
    """Every gemeente's shown rows, for references only (an average over all gemeenten, the
    expected-toetsadvies line): callers reduce it to an aggregate that reveals no single area,
    and it has already lost every suppressed cell."""
    return observations(engine, Scope.everything(), key, period=period).rows


@cached
def periods(engine, scope: Scope, key: str, *, gemeente: str | None = None) -> list[str]:
    query = select(observation.c.period).distinct().where(
        observation.c.indicator_key == key, _in_scope(observation.c.gemeente_code, scope))
    if gemeente is not None:
        query = query.where(observation.c.gemeente_code == scope.check(gemeente))
    with engine.connect() as conn:
        return sort_periods(conn.execute(query).scalars().all())


SUBJECT_PREFIX = {"wijk": "WK", "gemeente": "GM", "buurt": "BU"}


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


def weighted_mean(frame: pd.DataFrame) -> float | None:
    """Mean weighted by n (pupils), over rows that survived suppression."""
    rows = frame.dropna(subset=["value"])
    if rows.empty:
        return None
    if rows["n"].notna().all() and rows["n"].sum() > 0:
        return float((rows["value"] * rows["n"]).sum() / rows["n"].sum())
    return float(rows["value"].mean())


@cached
def key_figures(engine, scope: Scope, gemeente: str) -> list[dict]:
    """A few figures with the references a reader needs: all gemeenten and the previous period.

    The all-gemeenten reference is over every gemeente in the data; it is an aggregate, so it is
    computed without the scope limit, from suppressed rows only, and reveals no single area.
    """
    scope.check(gemeente)
    figures = []
    for key, group in (("afstroom_pct", ""), ("opstroom_pct", ""), ("toetsadvies_gem", ""),
                       ("apcg_pct", ""), ("havo_vwo_17_pct", "laag"), ("havo_vwo_17_pct", "hoog")):
        labels = periods(engine, Scope.everything(), key)
        if not labels:
            continue
        latest, previous = labels[-1], (labels[-2] if len(labels) > 1 else None)
        here, withheld = observations(engine, scope, key, gemeente=gemeente, period=latest)
        everywhere = all_gemeenten(engine, key, period=latest)
        before = observations(engine, scope, key, gemeente=gemeente, period=previous).rows if previous else here.iloc[0:0]
        if group:
            here, everywhere, before, withheld = (f[f["group"] == group] for f in (here, everywhere, before, withheld))
        ind = registry.get(key)
        figures.append({
            "key": key, "label": f"Havo/vwo 17-jarigen, ouders {group}" if group else ind.label, "unit": ind.unit,
            "period": latest, "value": weighted_mean(here), "all_gemeenten": weighted_mean(everywhere),
            "previous_period": previous, "previous": weighted_mean(before), "withheld": len(withheld),
            "higher_is_better": ind.higher_is_better,
        })
    return figures


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
def areas(engine, scope: Scope, gemeente: str | None, level: str = "wijk") -> pd.DataFrame:
    """The areas of one gemeente, or of every gemeente in the scope (None), in their newest
    vintage, with GeoJSON outlines (WGS84) simplified for a map that shows them all.

    CBS renumbers and redraws wijken between years; one vintage per view keeps a map from
    showing two generations of the same wijk on top of each other.
    """
    where = [area.c.level == level]
    if gemeente is None:
        where.append(_in_scope(area.c.gemeente_code, scope))
    else:
        where.append(area.c.gemeente_code == scope.check(gemeente))
    with engine.connect() as conn:
        year = conn.execute(select(func.max(area.c.year)).where(*where)).scalar()
        rows = conn.execute(select(area.c.code, area.c.name, area.c.gemeente_code, area.c.geometry)
                            .where(*where, area.c.year == year).order_by(area.c.code)).all()
    frame = pd.DataFrame(rows, columns=["code", "name", "gemeente_code", "geometry"])
    frame["geometry"] = geometry.for_map(list(frame["geometry"]), geometry.DETAIL_PX if gemeente else
                                         geometry.NATIONAL_DETAIL_PX)
    return frame


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
