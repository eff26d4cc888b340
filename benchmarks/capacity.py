"""Capacity at the server: hundreds of sessions that speak Streamlit's own WebSocket protocol.

``python -m benchmarks.capacity`` (options: ``--processes 1 2 4``, ``--sessions 25 50 …``,
``--database demo|scale``). The 20-browser run (``benchmarks.load``) measured the browsers: 20
headless Chromiums on 2 CPUs kept the app at a fifth of one core. Here a session is what the
server sees of a browser: a WebSocket with the login cookie, sending ``BackMsg`` rerun requests
(a page, its URL parameters) and reading ``ForwardMsg`` until the run has finished. It keeps the
messages it was sent, and says so on the next request, as the browser's cache does, so the
server sends what it would send a browser.

Each step adds sessions up to the next count (they arrive over a few seconds), lets them work
for a while and records the time from request to "script finished" of every interaction. A
session clicks on average every ``THINK_S`` seconds (exponential pauses): a page, a period, a
gemeente in its scope. A login is a session row made in the database (the login form and its
bcrypt are measured elsewhere); a session that is shown the login form instead counts as a lost
login. Sessions per process is the largest count whose p95 stays under one second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from deploy.run import Deployment

from .browser import free_port
from .figures import percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS-capacity.md"
PLOT = ROOT / "benchmarks" / "capacity.png"
THINK_S = float(os.environ.get("GKA_CAPACITY_THINK_S", "10"))
STEP_S = float(os.environ.get("GKA_CAPACITY_STEP_S", "40"))
TARGET_P95_S = 1.0
GKA_TARGET = 300  # concurrent sessions the GKA needs (issue #17)
COOKIE_KEY = "benchmark-cookie-sleutel-van-minstens-32-tekens"
PAGES = ["", "kaart", "afstroom", "scholen", "ouderopleiding", "gesprek"]
PERIODS = {"kaart": ("periode", ["2014-2016", "2016-2018"]), "afstroom": ("indicator", ["afstroom_pct", "opstroom_pct"])}
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}


@dataclass
class Account:
    username: str
    gemeenten: list[str]


@dataclass
class Tally:
    """What the sessions of one step saw."""

    latencies: list[float] = field(default_factory=list)
    clicks: list[tuple[str, str, float]] = field(default_factory=list)  # page, gemeente, seconds
    lost_logins: int = 0
    errors: int = 0
    failed: int = 0


class Session:
    """One browser as the server sees it."""

    def __init__(self, base: str, token: str, account: Account, rng: random.Random):
        self.base, self.token, self.account, self.rng = base, token, account, rng
        self.cached: set[str] = set()
        self.route = uuid.uuid4().hex
        self.ws = None

    async def connect(self) -> None:
        url = self.base.replace("http", "ws", 1) + "/_stcore/stream"
        self.ws = await websockets.connect(
            url, subprotocols=["streamlit"], max_size=None, open_timeout=120, ping_interval=None,
            additional_headers={"Cookie": f"gka_dash_sessie={self.token}; gka_route={self.route}",
                                "Origin": self.base})

    async def run(self, page: str, query: str, tally: Tally | None) -> None:
        """Ask for one run and read until it has finished; record its time in ``tally``."""
        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_name = page
        msg.rerun_script.cached_message_hashes.extend(sorted(self.cached))
        started = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        login_form = error = False
        while True:
            data = await asyncio.wait_for(self.ws.recv(), timeout=300)
            forward = ForwardMsg()
            forward.ParseFromString(data)
            if forward.metadata.cacheable:
                self.cached.add(forward.hash)
            kind = forward.WhichOneof("type")
            if kind == "delta":
                element = forward.delta.new_element
                which = element.WhichOneof("type")
                login_form |= which == "text_input" and element.text_input.label == "Gebruikersnaam"
                error |= which == "exception" or (which == "alert" and element.alert.format == 1)  # ERROR
            elif kind == "script_finished" and forward.script_finished in FINISHED:
                break
        if tally is not None:
            tally.latencies.append(time.perf_counter() - started)
            tally.clicks.append((page or "overzicht", query.split("&")[0].removeprefix("gemeente="),
                                 tally.latencies[-1]))
            tally.lost_logins += login_form
            tally.errors += error

    def next_click(self) -> tuple[str, str]:
        page = self.rng.choice(PAGES)
        params = {"gemeente": self.rng.choice(self.account.gemeenten)}
        if page in PERIODS:
            name, values = PERIODS[page]
            params[name] = self.rng.choice(values)
        return page, "&".join(f"{k}={v}" for k, v in params.items())

    async def work(self, tallies: dict, step: list[int], opened: list[int], stop: asyncio.Event) -> None:
        """Log in (the cookie), open the Overzicht, then click until told to stop."""
        try:
            await self.connect()
            await self.run("", f"gemeente={self.account.gemeenten[0]}", None)
            opened[0] += 1
            while not stop.is_set():
                await asyncio.sleep(self.rng.expovariate(1 / THINK_S))
                if stop.is_set():
                    break
                await self.run(*self.next_click(), tallies.setdefault(step[0], Tally()))
        except Exception:  # a connection the server dropped or refused, a run past five minutes
            tallies.setdefault(step[0], Tally()).failed += 1
        finally:
            if self.ws is not None:
                await self.ws.close()


async def warm_up(app_urls: list[str], logins: list[tuple[str, Account]]) -> None:
    """Every page, gemeente and filter value of every account once on each process, straight to
    its port: a server in use has computed them (its caches, keyed by scope, hold until the next
    import); the steps measure that server, not the first computation of a figure."""
    accounts = {account.username: (token, account) for token, account in reversed(logins)}

    async def one(url: str, token: str, account: Account) -> None:
        session = Session(url, token, account, random.Random(0))
        await session.connect()
        for page in PAGES:
            for gemeente in account.gemeenten:
                name, values = PERIODS.get(page, (None, [None]))
                for value in values:
                    await session.run(page, f"gemeente={gemeente}" + (f"&{name}={value}" if name else ""), None)
        await session.ws.close()

    await asyncio.gather(*(one(url, token, account) for url in app_urls for token, account in accounts.values()))


def _rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS:")) / 1024
        except (OSError, StopIteration):
            pass
    return total


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return total


async def ramp(base: str, accounts: list[tuple[str, Account]], counts: list[int], pids) -> list[dict]:
    """Run the steps on one deployment: more sessions at each step, the same ones kept."""
    rng = random.Random(2026)
    tallies: dict[int, Tally] = {}
    step, opened = [0], [0]
    stop = asyncio.Event()
    tasks, rows = [], []
    for count in counts:
        step[0] = -count  # interactions while sessions arrive are not counted
        while len(tasks) < count:
            token, account = accounts[len(tasks) % len(accounts)]
            session = Session(base, token, account, random.Random(rng.random()))
            tasks.append(asyncio.create_task(session.work(tallies, step, opened, stop)))
            await asyncio.sleep(min(0.05, 10 / count))
        while opened[0] + sum(t.failed for t in tallies.values()) < count:  # each new one shows its first page
            await asyncio.sleep(0.2)
        step[0] = count
        cpu, own, started = _cpu_seconds(pids()), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        await asyncio.sleep(STEP_S)
        wall = time.perf_counter() - started
        used = resource.getrusage(resource.RUSAGE_SELF)
        tally = tallies.get(count, Tally())
        rows.append({"sessions": count, "interactions": len(tally.latencies),
                     "median": statistics.median(tally.latencies) if tally.latencies else float("nan"),
                     "p95": percentile(tally.latencies, 0.95) if tally.latencies else float("nan"),
                     "clicks": tally.clicks, "lost_logins": tally.lost_logins, "errors": tally.errors, "failed": tally.failed,
                     "app_cpu": (_cpu_seconds(pids()) - cpu) / wall,
                     "generator_cpu": (used.ru_utime + used.ru_stime - own.ru_utime - own.ru_stime) / wall,
                     "rss_mb": _rss_mb(pids()) / max(1, len(pids()))})
        print(f"  {count:4d} sessions: {rows[-1]['interactions']} clicks, median {rows[-1]['median']:.2f} s, "
              f"p95 {rows[-1]['p95']:.2f} s, app CPU {rows[-1]['app_cpu']:.2f} cores, lost logins "
              f"{tally.lost_logins}, errors {tally.errors}, failed {tally.failed}", flush=True)
        if rows[-1]["p95"] > 4 * TARGET_P95_S:
            break  # far past the knee: more sessions only queue longer
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return rows


def _logins(url: str, accounts: list[Account], count: int) -> list[tuple[str, Account]]:
    from gka_dash import db
    from gka_dash.access import sessions
    with db.get_engine(url).begin() as conn:
        return [(sessions.create(conn, accounts[i % len(accounts)].username, timedelta(hours=4)),
                 accounts[i % len(accounts)]) for i in range(count)]


def _demo_database() -> tuple[str, list[Account]]:
    from gka_dash import db, demo
    url = f"sqlite:///{tempfile.mkdtemp(prefix='gka-capacity-')}/gka.sqlite"
    demo.build_demo(db.get_engine(url))
    return url, [Account(u, list(g) or [code for code, *_ in demo.GEMEENTEN]) for u, _, g, _, _ in demo.DEMO_USERS]


def _scale_database(url: str) -> tuple[str, list[Account]]:
    from gka_dash import db
    from gka_dash.access import users

    from . import scale
    from .run import RAW
    engine = db.get_engine(url)
    db.drop_all(engine)
    scale.build(engine, RAW)
    with engine.connect() as conn:
        regio = users.get_user(conn, "regio")
    return url, [Account("regio", sorted(regio.gemeenten))]


def measure(url: str, accounts: list[Account], processes: list[int], counts: list[int]) -> dict[int, list[dict]]:
    results = {}
    for n in processes:
        print(f"{n} process(es):", flush=True)
        logins = _logins(url, accounts, max(counts))
        env = {**os.environ, "GKA_DATABASE_URL": url, "GKA_COOKIE_KEY": COOKIE_KEY}
        with Deployment(n, free_port(), Path(tempfile.mkdtemp(prefix="gka-capacity-run-")), environ=env,
                        restart=False) as deployment:
            asyncio.run(warm_up([f"http://127.0.0.1:{port}" for port in deployment.app_ports], logins))
            results[n] = asyncio.run(ramp(deployment.url, logins, counts,
                                          lambda: [p.pid for p in deployment.apps.values()]))
    return results


def capacity(rows: list[dict]) -> int:
    """Sessions at the last step whose p95 stayed under the target, before the first that did not."""
    fit = 0
    for row in rows:
        if row["p95"] < TARGET_P95_S and not row["failed"]:
            fit = row["sessions"]
        else:
            break
    return fit


def plot(results: dict[str, dict[int, list[dict]]], path: Path = PLOT) -> None:
    import altair as alt
    import pandas as pd
    frame = pd.DataFrame([{**row, "opzet": f"{where}, {n} proces{'sen' if n > 1 else ''}"}
                          for where, by_n in results.items() for n, rows in by_n.items() for row in rows])
    line = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("sessions:Q", title="gelijktijdige sessies"),
        y=alt.Y("p95:Q", title="p95 tijd per klik (s)", scale=alt.Scale(type="log")),
        color=alt.Color("opzet:N", title=None, legend=alt.Legend(orient="bottom", columns=2, labelLimit=420)),
        strokeDash=alt.StrokeDash("opzet:N", title=None))
    rule = alt.Chart(pd.DataFrame({"y": [TARGET_P95_S]})).mark_rule(color="#b00020").encode(y="y:Q")
    (line + rule).properties(width=640, height=360, title="Capaciteit: p95 per klik tegen het aantal sessies"
                             ).save(str(path), format="png", scale_factor=1.5)


def write(results: dict[str, dict[int, list[dict]]], path: Path = RESULTS) -> None:
    lines = ["# Capacity: sessions per process (protocol-level load)", "",
             f"Run `python -m benchmarks.capacity`. Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on "
             f"{os.cpu_count()} CPUs; the generator shares them with the app (its CPU is in the table).",
             f"A session clicks every {THINK_S:.0f} s on average (exponential pauses: a page, a period, a gemeente); "
             f"each step is measured for {STEP_S:.0f} s after its sessions have arrived. Time per click: from the "
             "request to Streamlit's \"script finished\", everything the browser would be sent included.",
             "", f"![p95 per click against sessions]({PLOT.name})", ""]
    for where, by_n in results.items():
        for n, rows in by_n.items():
            lines += [f"## {where}, {n} app process{'es' if n > 1 else ''} behind nginx", "",
                      f"**{capacity(rows)} sessions at p95 < {TARGET_P95_S:.0f} s** "
                      f"({capacity(rows) / n:.0f} per process, {capacity(rows) / min(n, os.cpu_count() or 1):.0f} "
                      f"per core: more processes than cores share them).", "",
                      "| sessions | clicks | median | p95 | app CPU (cores) | generator CPU | lost logins | errors "
                      "| failed sessions | memory per process |", "|---|---|---|---|---|---|---|---|---|---|"]
            lines += [f"| {r['sessions']} | {r['interactions']} | {r['median']:.2f} s | {r['p95']:.2f} s | "
                      f"{r['app_cpu']:.2f} | {r['generator_cpu']:.2f} | {r['lost_logins']} | {r['errors']} | "
                      f"{r['failed']} | {r['rss_mb']:.0f} MB |" for r in rows]
            lines.append("")
    lines += _per_page(results)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written {path.relative_to(ROOT)}")


def _per_page(results: dict[str, dict[int, list[dict]]]) -> list[str]:
    """Where a click's time goes: the median per page and gemeente at the quietest step of one
    process (least queueing), so the costly views can be named."""
    lines = []
    for where, by_n in results.items():
        quiet = min(by_n)
        clicks = by_n[quiet][0]["clicks"] if by_n[quiet] else []
        per = {}
        for page, gemeente, seconds in clicks:
            per.setdefault((page, gemeente), []).append(seconds)
        if not per:
            continue
        lines += [f"### {where}: time per click by page and gemeente ({by_n[quiet][0]['sessions']} sessions, "
                  f"{quiet} process)", "", "| page | gemeente | clicks | median |", "|---|---|---|---|"]
        lines += [f"| {page} | {gemeente} | {len(times)} | {statistics.median(times):.2f} s |"
                  for (page, gemeente), times in sorted(per.items(), key=lambda kv: -statistics.median(kv[1]))]
        lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 25, 50, 100, 150, 200, 300])
    parser.add_argument("--database", choices=["demo", "scale"], nargs="+", default=["demo", "scale"])
    args = parser.parse_args()
    results = {}
    if "demo" in args.database:
        url, accounts = _demo_database()
        results["demo (SQLite)"] = measure(url, accounts, args.processes, args.sessions)
    if "scale" in args.database:
        from . import postgres
        with postgres.database() as pg:
            if pg is not None:
                url, accounts = _scale_database(pg)
                results["schaal (PostgreSQL, 50 gemeenten)"] = measure(url, accounts, args.processes, args.sessions)
    write(results)
    plot(results)


if __name__ == "__main__":
    main()
