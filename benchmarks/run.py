"""The performance benchmark: ``python -m benchmarks.run`` writes benchmarks/RESULTS.md.

Measures, on the synthetic demo and on the real CBS files in ../shared/data/raw:
page reruns (AppTest, cold and warm), a filter change against a bare-render floor, map bytes,
import time against a bare geopandas.read_file, cold start, and memory. Each figure is printed
with PASS/FAIL against the budget of issue #7. Timing lives here, never in a test.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT.parent / "shared" / "data" / "raw"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
PAGES = ["overzicht", "kaart", "afstroom", "scholen", "ouderopleiding", "gesprek"]
REPEAT = int(os.environ.get("GKA_BENCH_REPEAT", "15"))

BUDGET = {"rerun_ms": 250, "floor_ratio": 1.5, "map_one_kb": 150, "map_all_kb": 1536, "import_ratio": 4.0,
          "cold_start_s": 10}


class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, what: str, figure: str, budget: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        self.rows.append((what, figure, budget, verdict))
        print(f"{verdict or '    '}  {what}: {figure}" + (f" (budget {budget})" if budget else ""), flush=True)


def _median_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def _logged_in(page: str, **params):
    """A session of the regio user on one page, entered through app.py as in the browser."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "regio"
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.query_params.clear()
    at.query_params.update(params)
    return at


def page_reruns(table: Table) -> None:
    """Cold: a new session's first run (caches of the process warm, the session's not). Warm: a
    rerun of the same session, as after a click that changes nothing the page reads."""
    for page in PAGES:
        cold, warm = [], []
        for _ in range(max(3, REPEAT // 3)):
            at = _logged_in(page, gemeente="GM9901")
            start = time.perf_counter()
            at.run()
            cold.append((time.perf_counter() - start) * 1000)
            assert not at.exception, at.exception
        for _ in range(REPEAT):
            start = time.perf_counter()
            at.run()
            warm.append((time.perf_counter() - start) * 1000)
        cm, cp = _median_p95(cold)
        wm, wp = _median_p95(warm)
        table.add(f"page {page}: rerun cold median / p95", f"{cm:.0f} / {cp:.0f} ms")
        table.add(f"page {page}: rerun warm median / p95", f"{wm:.0f} / {wp:.0f} ms",
                  f"< {BUDGET['rerun_ms']} ms median", wm < BUDGET["rerun_ms"])


FLOOR_SCRIPT = '''
import pickle
import streamlit as st
deck, chart = pickle.load(open({path!r}, "rb"))
st.title("floor")
st.selectbox("Periode", ["2014-2016", "2016-2018"], key="p")
st.pydeck_chart(deck, height=520)
st.altair_chart(chart, width="stretch")
'''


def filter_change_vs_floor(table: Table) -> None:
    """The Kaart page answering a period change, against a script that only renders the same
    deck and a chart of the same size from objects computed beforehand."""
    import pickle

    from gka_dash import analysis, charts, config, db, maps, queries, registry
    from gka_dash.scope import Scope
    engine = db.get_engine(config.database_url())
    scope, ind = Scope.everything(), registry.get("afstroom_pct")
    values = analysis.area_values(engine, scope, "GM9901", ind.key, "2016-2018")
    scale = queries.observations(engine, scope, ind.key, gemeente="GM9901").rows["value"]
    change = analysis.wijk_change(engine, scope, "GM9901", ind.key, "2014-2016", "2016-2018")
    refs = analysis.reference_means(engine, scope, "GM9901", ind.key, ["2014-2016", "2016-2018"])
    objects = (maps.level_map(values, ind, "2016-2018", scale).deck,
               charts.dumbbell(change.frame, ind, "2014-2016", "2016-2018", refs, "Veenhaven"))
    folder = Path(tempfile.mkdtemp())
    (folder / "objects.pickle").write_bytes(pickle.dumps(objects))
    script = folder / "floor.py"
    script.write_text(FLOOR_SCRIPT.format(path=str(folder / "objects.pickle")))
    from streamlit.testing.v1 import AppTest

    def timed(at, change_to):
        samples = []
        for i in range(REPEAT):
            widget = at.selectbox(key=change_to[0])
            widget.set_value(change_to[1][i % 2])
            start = time.perf_counter()
            at.run()
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)

    floor = AppTest.from_file(str(script), default_timeout=120).run()
    floor_ms = timed(floor, ("p", ["2016-2018", "2014-2016"]))
    page = _logged_in("kaart", gemeente="GM9901").run()
    page_ms = timed(page, ("filter_periode", ["2014-2016", "2016-2018"]))
    ratio = page_ms / floor_ms
    table.add("filter change on Kaart (median) / bare-render floor", f"{page_ms:.0f} ms / {floor_ms:.0f} ms = "
              f"{ratio:.2f}×", f"≤ {BUDGET['floor_ratio']}×", ratio <= BUDGET["floor_ratio"])


def _deck_bytes(engine, scope, gemeente: str | None) -> int:
    from gka_dash import analysis, maps, queries, registry
    ind = registry.get("inwoners")
    codes = [gemeente] if gemeente else list(queries.gemeenten(engine, scope)["code"])
    frames = [analysis.area_values(engine, scope, code, ind.key, "2015") for code in codes]
    import pandas as pd
    values = analysis.AreaValues(pd.concat([f.frame for f in frames], ignore_index=True), 0)
    return len(maps.level_map(values, ind, "2015", values.frame["value"]).deck.to_json().encode())


def real_data(table: Table) -> None:
    """Import the real 2015 gemeente/wijk/buurt files into a fresh SQLite, timed against a bare
    geopandas.read_file; then the bytes of the map of one, the biggest, and all gemeenten."""
    import geopandas as gpd

    from gka_dash import db
    from gka_dash.importers.cbs_areas import import_areas
    from gka_dash.scope import Scope
    if not (RAW / "tnocs_vr" / "wijk.geojson").exists():
        table.add("real CBS files", f"not found in {RAW}; skipped")
        return
    engine = db.get_engine(f"sqlite:///{tempfile.mkdtemp()}/real.sqlite")
    db.init_db(engine)
    import_areas(engine, RAW / "tnocs_vr" / "gemeente.geojson", level="gemeente", year=2015)
    for level in ("wijk", "buurt"):
        path = RAW / "tnocs_vr" / f"{level}.geojson"
        start = time.perf_counter()
        gpd.read_file(path)
        bare = time.perf_counter() - start
        start = time.perf_counter()
        import_areas(engine, path, level=level, year=2015)
        ours = time.perf_counter() - start
        table.add(f"import {level}.geojson / bare read_file", f"{ours:.1f} s / {bare:.1f} s = {ours / bare:.1f}×",
                  f"≤ {BUDGET['import_ratio']}×", ours / bare <= BUDGET["import_ratio"])
    scope = Scope.everything()
    with engine.connect() as conn:
        from sqlalchemy import func, select

        from gka_dash.schema import area
        biggest = conn.execute(select(area.c.gemeente_code).where(area.c.level == "wijk").group_by(
            area.c.gemeente_code).order_by(func.count().desc()).limit(1)).scalar()
        wijken = conn.execute(select(func.count()).select_from(area).where(area.c.level == "wijk")).scalar()
    one = _deck_bytes(engine, scope, "GM0599") / 1024
    big = _deck_bytes(engine, scope, biggest) / 1024
    table.add("map bytes, one gemeente (Rotterdam, GM0599)", f"{one:.0f} KB", f"< {BUDGET['map_one_kb']} KB",
              one < BUDGET["map_one_kb"])
    table.add(f"map bytes, biggest gemeente by wijken ({biggest})", f"{big:.0f} KB", f"< {BUDGET['map_one_kb']} KB",
              big < BUDGET["map_one_kb"])
    start = time.perf_counter()
    every = _deck_bytes(engine, scope, None) / 1024
    table.add(f"map bytes, all {wijken} wijken of 2015 (built in {time.perf_counter() - start:.1f} s)",
              f"{every:.0f} KB", f"< {BUDGET['map_all_kb']} KB", every < BUDGET["map_all_kb"])


COLD_SCRIPT = f'''
import sys, time
start = time.perf_counter()
sys.path.insert(0, {str(ROOT)!r})
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=120).run()
assert at.text_input[0].label == "Gebruikersnaam", [t.label for t in at.text_input]
print(time.perf_counter() - start)
'''


def cold_start(table: Table) -> None:
    """A new process, an empty SQLite file: imports, schema, demo build, first run to the form."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "GKA_DATABASE_URL": f"sqlite:///{folder}/empty.sqlite"}
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", COLD_SCRIPT], env=env, capture_output=True, text=True,
                             check=True, cwd=ROOT)
        wall = time.perf_counter() - start
    inside = float(out.stdout.strip().splitlines()[-1])
    table.add("cold start: empty database to login form (new process)", f"{wall:.1f} s (script {inside:.1f} s)",
              f"< {BUDGET['cold_start_s']} s", wall < BUDGET["cold_start_s"])


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(s for s in status if s.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def memory(table: Table) -> None:
    """Resident memory of this process, and its growth per extra session kept alive."""
    sessions = [_logged_in("kaart", gemeente="GM9901").run()]
    base = _rss_mb()
    for _ in range(10):
        sessions.append(_logged_in("scholen", gemeente="GM9901").run())
    grown = _rss_mb()
    table.add("memory per process (RSS after the runs above)", f"{base:.0f} MB "
              f"(peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    table.add("memory per session (growth over 10 more sessions)", f"{(grown - base) / 10:.1f} MB")


def main() -> None:
    database = Path(tempfile.mkdtemp()) / "demo.sqlite"
    os.environ["GKA_DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("GKA_BASEMAP", "carto")
    from gka_dash import db, demo
    demo.build_demo(db.get_engine(os.environ["GKA_DATABASE_URL"]))
    table = Table()
    page_reruns(table)
    filter_change_vs_floor(table)
    memory(table)
    cold_start(table)
    real_data(table)
    write(table)


def write(table: Table) -> None:
    versions = ", ".join(f"{p} {version(p)}" for p in ("streamlit", "pandas", "geopandas", "pydeck", "altair",
                                                       "SQLAlchemy"))
    lines = ["# Benchmark results", "",
             f"Run `python -m benchmarks.run` (about five minutes). Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
             "", f"- machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
             f"- versions: {versions}", f"- repeats: {REPEAT} warm reruns per page; demo database (SQLite) unless "
             "the line says real", "", "| measure | figure | budget | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table.rows]
    not_measured = ["national view (all wijken on one map with simplification per zoom)",
                    "load test with 20 concurrent browsers", "PostgreSQL with ~300,000 observations"]
    lines += ["", "Not measured yet (issue #7, still open): " + "; ".join(not_measured) + "."]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
