"""The whole GKA at scale, for the benchmark: the real CBS 2015 gemeente, wijk and buurt layers
and the real DUO list of PO-vestigingen, plus about 300,000 generated observations for 50 GKA
gemeenten.

The 50 are the GKA gemeenten we could find (gka_gemeenten_bekend.csv; two merger codes of
after 2015 are not in the 2015 layers) completed with the largest other gemeenten by
inhabitants, so the sizes are those of the real alliance. The generated figures are marked
synthetic; they start from the real 2015 kerncijfers of each area and drift from there, so a
map of them looks like the country, but no figure is real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select

from gka_dash import db, registry
from gka_dash.access import users
from gka_dash.importers.base import checksum, start_dataset, write_observations
from gka_dash.importers.cbs_areas import import_areas
from gka_dash.importers.duo_schools import import_schools
from gka_dash.schema import area, observation, school

GEMEENTEN = 50
SEED = 2026
PERIODS = [f"{y}-{y + 2}" for y in range(2010, 2017)]  # rolling two-year windows up to 2016-2018
SCHOOL_YEARS = [f"{y}-{y + 1}" for y in range(2014, 2019)]
YEARS = [str(y) for y in range(2010, 2020) if y != 2015]  # 2015 is the real CBS year
CONTEXT = ["inwoners", "pct_0_14_jr", "pct_niet_westers", "bijstand_per_1000", "ww_per_1000", "ao_per_1000"]
PASSWORD = "benchmark-wachtwoord-2026"


def gka_gemeenten(engine, raw: Path) -> list[str]:
    known = pd.read_csv(raw / "gka" / "gka_gemeenten_bekend.csv")["gm_code"]
    with engine.connect() as conn:
        sizes = pd.DataFrame(conn.execute(select(observation.c.subject, observation.c.value).where(
            observation.c.indicator_key == "inwoners", observation.c.subject.like("GM%"))).all(),
            columns=["code", "inwoners"]).set_index("code")["inwoners"]
    chosen = [code for code in known if code in sizes.index]
    others = sizes.drop(chosen).sort_values(ascending=False).index
    return chosen + list(others[:GEMEENTEN - len(chosen)])


def build(engine, raw: Path) -> dict[str, int]:
    """Import the real layers and schools, then generate the observations; returns counts."""
    db.init_db(engine)
    for level in ("gemeente", "wijk", "buurt"):
        import_areas(engine, raw / "tnocs_vr" / f"{level}.geojson", level=level, year=2015, user="benchmark")
    import_schools(engine, raw / "duo_cbs_ginberg_cito" / "vestigingen_bo_all_geocoded.csv", sector="PO",
                   user="benchmark")
    codes = gka_gemeenten(engine, raw)
    rows = _generated(engine, codes)
    with engine.begin() as conn:
        dataset_id = start_dataset(conn, kind="indicators", name="benchmark: gegenereerd voor 50 GKA-gemeenten",
                                   file_name="(gegenereerd)", digest=checksum(repr((SEED, len(rows))).encode()),
                                   rows=len(rows), user="benchmark", synthetic=True)
        stored = write_observations(conn, rows, dataset_id)
        users.add_user(conn, "beheer", role="beheerder", password=PASSWORD, by="benchmark")
        users.add_user(conn, "regio", role="regio", gemeenten=codes[:6], password=PASSWORD, by="benchmark")
    return {"gemeenten": len(codes), "generated observations": stored}


def _generated(engine, codes: list[str]) -> list[dict]:
    rng = np.random.default_rng(SEED)
    with engine.connect() as conn:
        areas = pd.DataFrame(conn.execute(select(area.c.code, area.c.gemeente_code).where(
            area.c.level.in_(("wijk", "buurt")), area.c.gemeente_code.in_(codes))).all(), columns=["subject", "gm"])
        schools = pd.DataFrame(conn.execute(select(school.c.id, school.c.gemeente_code).where(
            school.c.sector == "PO", school.c.gemeente_code.in_(codes))).all(), columns=["subject", "gm"])
        real = pd.DataFrame(conn.execute(select(observation.c.subject, observation.c.indicator_key,
                                                observation.c.value).where(
            observation.c.indicator_key.in_(CONTEXT), observation.c.gemeente_code.in_(codes))).all(),
            columns=["subject", "key", "value"]).pivot(index="subject", columns="key", values="value")
    real = real.reindex(areas["subject"])
    inhabitants = real["inwoners"].fillna(500).clip(lower=50).to_numpy()
    # A hidden deprivation score per area drives every generated figure, as in the demo.
    deprivation = ((real["pct_niet_westers"].fillna(10) - 10) / 11).clip(-2, 3).to_numpy() + rng.normal(0, 0.5, len(areas))
    frames = []
    for year in YEARS:
        drift = 1 + 0.01 * (int(year) - 2015)
        for key in CONTEXT:
            base = real[key].fillna(real[key].median()).to_numpy()
            value = base * drift * rng.normal(1, 0.03, len(areas)) if key != "inwoners" else np.round(inhabitants * drift)
            frames.append(_frame(areas, key, year, value, np.round(inhabitants * drift)))
    pupils = np.maximum(3, np.round(inhabitants * rng.uniform(0.045, 0.065, len(areas))))
    for k, period in enumerate(PERIODS):
        trend = k * (0.3 * deprivation + rng.normal(0.1, 0.5, len(areas)))
        frames.append(_frame(areas, "afstroom_pct", period, np.clip(9 + 2.8 * deprivation + trend, 0.5, 35), pupils))
        frames.append(_frame(areas, "opstroom_pct", period, np.clip(6 - 1.3 * deprivation - 0.3 * trend, 0.3, 25),
                             pupils))
    school_apcg = np.clip(rng.gamma(1.5, 12, len(schools)), 0, 95)
    school_n = rng.integers(8, 90, len(schools))
    for year in SCHOOL_YEARS:
        apcg = np.clip(school_apcg + rng.normal(0, 2, len(schools)), 0, 100)
        frames.append(_frame(schools, "apcg_pct", year, apcg, school_n))
        frames.append(_frame(schools, "toetsadvies_gem", year,
                             np.clip(5.2 - 0.02 * apcg + rng.normal(0, 0.4, len(schools)), 2, 7.5), school_n))
    gemeenten = pd.DataFrame({"subject": codes, "gm": codes})
    for year in range(2014, 2019):
        for shift, group in ((-25, "laag"), (0, "midden"), (25, "hoog")):
            frames.append(_frame(gemeenten, "havo_vwo_17_pct", str(year),
                                 np.clip(50 + shift + rng.normal(0, 4, len(codes)), 2, 98),
                                 rng.integers(40, 3000, len(codes)), group))
    rows = pd.concat(frames, ignore_index=True)
    assert set(rows["indicator_key"]) <= set(registry.INDICATORS)
    return rows.to_dict("records")


def _frame(subjects: pd.DataFrame, key: str, period: str, values, n, group: str = "") -> pd.DataFrame:
    return pd.DataFrame({"indicator_key": key, "subject": subjects["subject"].to_numpy(),
                         "gemeente_code": subjects["gm"].to_numpy(), "period": period, "group": group,
                         "value": np.round(np.asarray(values, dtype=float), 2), "n": np.asarray(n, dtype=int)})
