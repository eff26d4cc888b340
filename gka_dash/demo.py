"""The synthetic demo data set (design §6): fictional gemeenten, wijken and schools with every
indicator, built from a fixed seed so every machine gets the same numbers.

The relations mimic the real ones — afstroom higher where bijstand is higher, toetsadvies falling
with % APCG, a clear gap by ouderopleiding — plus noise, and a few small wijken, schools and
groups that fall below the suppression threshold. The gemeenten lie in the North Sea, with codes
GM99xx that CBS does not use, so no one mistakes them for a real place.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, Polygon
from sqlalchemy import delete, select

from . import db
from .access import users
from .importers.base import checksum, start_dataset, write_observations
from .schema import area, dataset, school

SEED = 20161
AREA_YEAR = 2015
SCHOOL_YEARS = ["2014-2015", "2015-2016", "2016-2017", "2017-2018", "2018-2019"]
AFSTROOM_PERIODS = ["2014-2016", "2016-2018"]
OUDEROPLEIDING_YEARS = ["2014", "2015", "2016", "2017", "2018"]
CONTEXT_YEARS = ["2015", "2017"]

GKA_DEMO = ("GM9901", "GM9902", "GM9904", "GM9905")  # the demo's GKA gemeenten: all but Waldersum
GEMEENTEN = [  # code, name, centre (lon, lat), radius km, wijken, schools, deprivation shift
    ("GM9901", "Veenhaven", (3.55, 52.70), 7.5, 22, 28, 0.5),
    ("GM9902", "Dijkstede", (3.95, 52.95), 5.5, 14, 18, 0.0),
    ("GM9903", "Waldersum", (3.20, 52.40), 4.0, 9, 11, -0.6),
    ("GM9904", "Brakelo", (3.70, 52.25), 5.0, 12, 16, 0.2),
    # The size of a big city (Rotterdam: 22 wijken in 2015 and 170 PO schools; Amsterdam about
    # 100 wijken since 2016), so every view is built, tested and benchmarked at real scale.
    ("GM9905", "Grootzeestad", (4.15, 52.45), 10.0, 45, 160, 0.3),
]

WIJK_NAMES = [
    "Centrum", "Oude Haven", "Molenwijk", "Noorderpark", "Zuiderveld", "De Hoven", "Westeinde",
    "Oosterkwartier", "Bloemenbuurt", "Vogelwijk", "Bomenbuurt", "Kanaalzone", "Stationskwartier",
    "De Weide", "Dorpskern", "Schildersbuurt", "Rivierenwijk", "Duinzicht", "Polderrand",
    "Kerkebuurt", "Havenkwartier", "Nieuwland", "Hoogkamp", "Lage Weide",
]
SCHOOL_PREFIXES = ["OBS", "CBS", "RKBS", "Basisschool", "IKC", "Daltonschool"]
SCHOOL_NAMES = [
    "De Regenboog", "Het Kompas", "De Vlinder", "De Wilgen", "Het Palet", "De Sterrenwacht",
    "De Linde", "Klavertje Vier", "De Zeester", "Het Baken", "De Vuurtoren", "De Springplank",
    "Het Anker", "De Meander", "De Toermalijn", "Het Mozaïek", "De Kameleon", "De Boomgaard",
    "De Horizon", "Het Kristal", "De Windroos", "De Bron", "De Tweemaster", "Het Zonnelied",
    "De Schakel", "De Duinroos", "Het Lichtschip", "De Zandloper", "De Ark", "De Wegwijzer",
]

DEMO_USERS = [  # username, role, gemeenten, password, display name — shown on the demo login page
    ("beheer", "beheerder", (), "demo-beheer-2024!", "Demo beheerder"),
    ("regio", "regio", ("GM9901", "GM9902"), "demo-regio-2024!", "Demo regiocoördinator"),
    ("veenhaven", "gemeente", ("GM9901",), "demo-veenhaven-2024!", "Demo gemeente Veenhaven"),
    ("waldersum", "gemeente", ("GM9903",), "demo-waldersum-2024!", "Demo gemeente Waldersum"),
    ("grootzeestad", "gemeente", ("GM9905",), "demo-grootzeestad-2024!", "Demo gemeente Grootzeestad"),
]


class RealDataPresent(Exception):
    """The demo refuses to mix into a database that holds real imports."""


def build_demo(engine, *, user: str = "demo") -> dict[str, int]:
    db.init_db(engine)
    with engine.begin() as conn:
        real = conn.execute(select(dataset.c.name).where(dataset.c.synthetic.is_(False))).first()
        if real is not None:
            raise RealDataPresent(f"this database holds real imports ({real.name}); build the demo "
                                  "in its own database (GKA_DATABASE_URL)")
        rng = np.random.default_rng(SEED)
        areas, observations, schools = [], [], []
        for spec in GEMEENTEN:
            _gemeente(rng, spec, areas, observations, schools)
        digest = checksum(repr((SEED, len(areas), len(observations))).encode())
        dataset_id = start_dataset(conn, kind="demo", name="synthetische demo", file_name="(gegenereerd)",
                                   digest=digest, rows=len(observations), user=user, synthetic=True)
        for table, key in ((area, "code"), (school, "id")):
            codes = [r[key] for r in (areas if table is area else schools)]
            conn.execute(delete(table).where(table.c[key].in_(codes)))
        conn.execute(area.insert(), [{**a, "dataset_id": dataset_id} for a in areas])
        conn.execute(school.insert(), [{**s, "dataset_id": dataset_id} for s in schools])
        write_observations(conn, observations, dataset_id)
        for username, role, gemeenten, password, name in DEMO_USERS:
            if users.get_user(conn, username) is None:
                users.add_user(conn, username, role=role, gemeenten=gemeenten, password=password,
                               name=name, demo=True, by=user)
        db.set_demo(conn, True)
    return {"areas": len(areas), "schools": len(schools), "observations": len(observations)}


def ensure_demo(engine) -> bool:
    """Build the demo on first start, when the database holds nothing at all."""
    db.init_db(engine)
    with engine.connect() as conn:
        if conn.execute(select(dataset.c.id).limit(1)).first() is not None:
            return False
    build_demo(engine)
    return True


def _wijk_names(count: int) -> list[str]:
    """Enough distinct names: a big city's wijken also get the points of the compass."""
    if count <= len(WIJK_NAMES):
        return WIJK_NAMES
    return WIJK_NAMES + [f"{name} {side}" for side in ("Noord", "Zuid", "Oost", "West") for name in WIJK_NAMES]


def _blob(rng, centre, radius_km) -> Polygon:
    """A gemeente outline: a circle with a few random bulges, in degrees."""
    lon0, lat0 = centre
    angles = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    phases = rng.uniform(0, 2 * math.pi, 3)
    r = radius_km * (1 + 0.18 * np.sin(2 * angles + phases[0]) + 0.10 * np.sin(3 * angles + phases[1])
                     + 0.05 * np.sin(5 * angles + phases[2]))
    kx = 1 / (111.32 * math.cos(math.radians(lat0)))
    return Polygon(zip(lon0 + r * np.cos(angles) * kx, lat0 + r * np.sin(angles) / 111.32))


def _wijk_polygons(rng, outline: Polygon, count: int) -> list[Polygon]:
    """Voronoi cells of relaxed random points: wijken of similar size, like a real city."""
    minx, miny, maxx, maxy = outline.bounds
    points = []
    while len(points) < count:
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if outline.contains(p):
            points.append(p)
    for _ in range(3):  # Lloyd relaxation
        cells = _cells(points, outline)
        points = [c.centroid for c in cells]
    cells = _cells(points, outline)
    # Sort west→east, north→south so wijk numbers read like a map.
    return sorted(cells, key=lambda c: (-round(c.centroid.y, 2), c.centroid.x))


def _cells(points, outline):
    regions = shapely.voronoi_polygons(MultiPoint(points), extend_to=outline.buffer(0.05))
    cells = []
    for p in points:
        cell = next(g for g in shapely.get_parts(regions) if g.contains(p))
        cells.append(cell.intersection(outline))
    return cells


def _random_point_in(rng, polygon) -> Point:
    minx, miny, maxx, maxy = polygon.bounds
    while True:
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if polygon.contains(p):
            return p


def _obs(key, subject, gm, period, value, n=None, group=""):
    return {"indicator_key": key, "subject": subject, "gemeente_code": gm, "period": period,
            "group": group, "value": None if value is None else round(float(value), 2), "n": n}


def _gemeente(rng, spec, areas, observations, schools) -> None:
    gm, name, centre, radius, n_wijken, n_schools, shift = spec
    outline = _blob(rng, centre, radius)
    areas.append({"code": gm, "year": AREA_YEAR, "level": "gemeente", "name": name,
                  "gemeente_code": gm, "geometry": shapely.to_geojson(shapely.set_precision(outline, 1e-5))})
    cells = _wijk_polygons(rng, outline, n_wijken)
    names = list(rng.permutation(_wijk_names(n_wijken)))[:n_wijken]
    deprivation = rng.normal(shift, 1.0, n_wijken)
    wijk_info = []
    for i, (cell, wijk_name, d) in enumerate(zip(cells, names, deprivation)):
        code = f"WK{gm[2:]}{i:02d}"
        small = i == n_wijken - 1  # every gemeente has one tiny wijk whose figures are withheld
        if small:
            wijk_name = "Bedrijventerrein " + ("Noord", "Zuid", "Oost", "West")[int(gm[-1]) % 4]
        inhabitants = int(rng.integers(60, 160)) if small else int(rng.integers(2500, 14000))
        areas.append({"code": code, "year": AREA_YEAR, "level": "wijk", "name": wijk_name,
                      "gemeente_code": gm, "geometry": shapely.to_geojson(shapely.set_precision(cell, 1e-5))})
        wijk_info.append((code, cell, d))
        _wijk_observations(rng, code, gm, d, inhabitants, observations)
    _schools(rng, gm, n_schools, wijk_info, observations, schools)
    _ouderopleiding(rng, gm, shift, observations)
    if gm in GKA_DEMO:  # without a random draw, so the other figures stay as they were
        observations.append(_obs("gka_gemeente", gm, gm, "2019", 1.0))


def _wijk_observations(rng, code, gm, d, inhabitants, observations) -> None:
    for k, year in enumerate(CONTEXT_YEARS):
        inw = int(inhabitants * (1 + 0.01 * k + rng.normal(0, 0.01)))
        context = {
            "inwoners": inw,
            "pct_0_14_jr": np.clip(16 + 2.5 * d + rng.normal(0, 1.5), 5, 35),
            "pct_niet_westers": np.clip(10 + 11 * d + rng.normal(0, 3), 1, 75),
            "bijstand_per_1000": np.clip(28 + 20 * d + rng.normal(0, 5), 2, 150),
            "ww_per_1000": np.clip(30 + 8 * d + rng.normal(0, 4), 5, 90),
            "ao_per_1000": np.clip(45 + 10 * d + rng.normal(0, 6), 5, 120),
            "stedelijkheid": float(np.clip(round(2.5 - 0.8 * d + rng.normal(0, 0.6)), 1, 5)),
            "bevolkingsdichtheid": np.clip(3000 + 1800 * d + rng.normal(0, 600), 50, 15000),
            "gem_huishoudgrootte": np.clip(2.2 + 0.15 * d + rng.normal(0, 0.1), 1.4, 3.5),
            "pct_hh_met_kinderen": np.clip(32 + 3 * d + rng.normal(0, 4), 5, 60),
        }
        for key, value in context.items():
            observations.append(_obs(key, code, gm, year, value, inw))
    pupils = max(3, int(inhabitants * rng.uniform(0.045, 0.065)))
    afstroom = np.clip(9 + 2.8 * d + rng.normal(0, 1.2), 1, 30)
    opstroom = np.clip(6 - 1.3 * d + rng.normal(0, 1.0), 0.5, 20)
    for k, period in enumerate(AFSTROOM_PERIODS):
        n = int(pupils * (1 + 0.04 * k))
        change = k * (0.6 * d + rng.normal(0.2, 1.0))
        observations.append(_obs("afstroom_pct", code, gm, period, np.clip(afstroom + change, 0.5, 35), n))
        observations.append(_obs("opstroom_pct", code, gm, period,
                                 np.clip(opstroom - 0.3 * change + rng.normal(0, 0.4), 0.3, 25), n))


def _schools(rng, gm, count, wijk_info, observations, schools) -> None:
    used = set()
    weights = np.array([max(cell.area, 1e-9) for _, cell, _ in wijk_info])
    for s in range(count):
        w = rng.choice(len(wijk_info), p=weights / weights.sum())
        code, cell, d = wijk_info[w]
        while True:
            school_name = f"{rng.choice(SCHOOL_PREFIXES)} {rng.choice(SCHOOL_NAMES)}"
            if school_name not in used:
                used.add(school_name)
                break
        sid = f"{gm[4]}{chr(65 + int(gm[5]))}{chr(65 + s // 26)}{chr(65 + s % 26)}00"
        point = _random_point_in(rng, cell)
        schools.append({"id": sid, "brin": sid[:4], "name": school_name, "sector": "PO",
                        "gemeente_code": gm, "postcode": None, "plaats": None,
                        "lon": round(point.x, 6), "lat": round(point.y, 6), "wijk_code": code})
        small = s % 9 == 8  # a few small schools whose cells must be suppressed
        base_pupils = int(rng.integers(4, 9)) if small else int(rng.integers(14, 70))
        apcg = float(np.clip(100 / (1 + math.exp(-(1.4 * d - 0.8 + rng.normal(0, 0.6)))), 0, 100))
        drift = rng.normal(0, 2.5)
        effect = rng.normal(0, 0.18)
        for k, year in enumerate(SCHOOL_YEARS):
            apcg_y = float(np.clip(apcg + drift * k + rng.normal(0, 2), 0, 100))
            n = max(1, int(base_pupils * (1 + rng.normal(0, 0.08))))
            toets = float(np.clip(4.55 - 0.014 * apcg_y + effect + rng.normal(0, 0.12), 1, 6))
            observations.append(_obs("apcg_pct", sid, gm, year, apcg_y, n))
            observations.append(_obs("toetsadvies_gem", sid, gm, year, toets, n))
            observations.append(_obs("schooladvies_gem", sid, gm, year,
                                     np.clip(toets + rng.normal(0.05, 0.1), 1, 6), n))
            observations.append(_obs("schooladvies_havo_vwo_pct", sid, gm, year,
                                     np.clip(20 + 25 * (toets - 3.8) + rng.normal(0, 4), 0, 100), n))
        observations.append(_obs("eindtoets_gem", sid, gm, "2018-2019",
                                 np.clip((toets - 4.0) / 0.5 + rng.normal(0, 0.2), -4, 4), n))
        observations.append(_obs("achterstandsscore_per_100", sid, gm, "2019-2020",
                                 max(0.0, 20 + 0.9 * apcg_y + rng.normal(0, 6)), n))


def _ouderopleiding(rng, gm, shift, observations) -> None:
    levels = {"laag": 28.0, "midden": 47.0, "hoog": 76.0}
    sizes = {"laag": 0.9, "midden": 1.3, "hoog": 1.0}
    population = {"GM9901": 900, "GM9902": 520, "GM9903": 90, "GM9904": 400, "GM9905": 5200}[gm]
    for k, year in enumerate(OUDEROPLEIDING_YEARS):
        for group, level in levels.items():
            n = int(population * sizes[group] * (1 + rng.normal(0, 0.05)))
            if gm == "GM9903" and group == "laag" and year == "2016":
                n = 7  # a group too small to publish
            value = level - 4 * shift * (1.5 if group == "laag" else 0.5) + 0.6 * k + rng.normal(0, 1.5)
            observations.append(_obs("havo_vwo_17_pct", gm, gm, year, np.clip(value, 1, 99), n, group))
