"""What the database holds, for ``info`` and the Overzicht page's data-sets panel."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from . import db
from .schema import area, dataset, observation, school, user


def summary(engine) -> dict:
    with engine.connect() as conn:
        areas: dict[str, dict[str, int]] = {}
        for level, year, count in conn.execute(
                select(area.c.level, area.c.year, func.count()).group_by(area.c.level, area.c.year)):
            areas.setdefault(level, {})[str(year)] = count
        schools = {sector: count for sector, count in conn.execute(
            select(school.c.sector, func.count()).group_by(school.c.sector))}
        no_coords = conn.execute(select(func.count()).where(school.c.lon.is_(None))).scalar()
        obs: dict[str, dict[str, int]] = {}
        for key, period, count in conn.execute(
                select(observation.c.indicator_key, observation.c.period, func.count())
                .group_by(observation.c.indicator_key, observation.c.period)):
            obs.setdefault(key, {})[period] = count
        users = {role: count for role, count in conn.execute(
            select(user.c.role, func.count()).group_by(user.c.role))}
        datasets = [
            {"kind": r.kind, "name": r.name, "rows": r.rows, "synthetic": bool(r.synthetic),
             "imported_at": r.imported_at.isoformat(timespec="seconds"), "imported_by": r.imported_by}
            for r in conn.execute(select(dataset).order_by(dataset.c.imported_at))]
    return {
        "database": make_url(str(engine.url)).render_as_string(hide_password=True),
        "demo": db.is_demo(engine),
        "data_version": db.data_version(engine),
        "areas": areas,
        "schools": {**schools, "without_coordinates": no_coords},
        "observations": obs,
        "users": users,
        "datasets": datasets,
    }


def as_text(info: dict) -> str:
    lines = [f"database: {info['database']}{'  (synthetische demo)' if info['demo'] else ''}"]
    for level, years in sorted(info["areas"].items()):
        lines.append(f"gebieden {level}: " + ", ".join(f"{y}: {n}" for y, n in sorted(years.items())))
    lines.append("scholen: " + ", ".join(f"{k}: {v}" for k, v in info["schools"].items()))
    for key, periods in sorted(info["observations"].items()):
        lines.append(f"  {key}: " + ", ".join(f"{p}: {n}" for p, n in sorted(periods.items())))
    lines.append("gebruikers: " + (", ".join(f"{r}: {n}" for r, n in info["users"].items()) or "geen"))
    for d in info["datasets"]:
        lines.append(f"dataset {d['kind']}: {d['name']} ({d['rows']} rijen, {d['imported_at']}, "
                     f"{d['imported_by']}{', synthetisch' if d['synthetic'] else ''})")
    return "\n".join(lines)
