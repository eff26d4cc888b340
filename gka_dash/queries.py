"""Every read the pages need. Each takes a Scope and filters by it in SQL, and every indicator
read passes through suppression before it is returned, so no page can show what it never gets."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from . import privacy, registry
from .periods import sort_periods
from .schema import area, dataset, observation, school
from .scope import Scope


def _in_scope(column, scope: Scope):
    return True if scope.is_everything else column.in_(sorted(scope.gemeenten))


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


def observations(engine, scope: Scope, key: str, *, gemeente: str | None = None,
                 period: str | None = None) -> tuple[pd.DataFrame, int]:
    """Observations of one indicator, suppressed; returns (rows, number withheld)."""
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


def periods(engine, scope: Scope, key: str) -> list[str]:
    with engine.connect() as conn:
        labels = conn.execute(select(observation.c.period).distinct().where(
            observation.c.indicator_key == key, _in_scope(observation.c.gemeente_code, scope))).scalars().all()
    return sort_periods(labels)


def weighted_mean(frame: pd.DataFrame) -> float | None:
    """Mean weighted by n (pupils), over rows that survived suppression."""
    rows = frame.dropna(subset=["value"])
    if rows.empty:
        return None
    if rows["n"].notna().all() and rows["n"].sum() > 0:
        return float((rows["value"] * rows["n"]).sum() / rows["n"].sum())
    return float(rows["value"].mean())


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
        everywhere, _ = observations(engine, Scope.everything(), key, period=latest)
        before, _ = observations(engine, scope, key, gemeente=gemeente, period=previous) if previous else (here.iloc[0:0], 0)
        if group:
            here, everywhere, before = (f[f["group"] == group] for f in (here, everywhere, before))
        ind = registry.get(key)
        figures.append({
            "key": key, "label": f"Havo/vwo 17-jarigen, ouders {group}" if group else ind.label, "unit": ind.unit,
            "period": latest, "value": weighted_mean(here), "all_gemeenten": weighted_mean(everywhere),
            "previous_period": previous, "previous": weighted_mean(before), "withheld": withheld,
            "higher_is_better": ind.higher_is_better,
        })
    return figures


def counts(engine, scope: Scope, gemeente: str) -> dict[str, int]:
    scope.check(gemeente)
    with engine.connect() as conn:
        wijken = conn.execute(select(func.count(func.distinct(area.c.code))).where(
            area.c.level == "wijk", area.c.gemeente_code == gemeente)).scalar()
        schools = conn.execute(select(func.count()).where(
            school.c.gemeente_code == gemeente, school.c.sector == "PO")).scalar()
    return {"wijken": wijken, "PO-scholen": schools}


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
