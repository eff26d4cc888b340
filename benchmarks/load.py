"""Load: 20 concurrent browser sessions of different users and scopes on one app server.

``python -m benchmarks.load`` (also part of ``python -m benchmarks.run``). Each session logs in
and then, for a bounded time, clicks through the pages, changes a filter and switches gemeente
as a user would; once it opens a link to a gemeente outside its scope. After every step it
checks that the page shows no error and nothing of a gemeente outside its scope. Interaction
time runs from the click until the app has finished the run it caused and drawn the result.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from gka_dash import db, demo
from gka_dash.access import users

from .browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE,
    TIMEOUT_MS,
    app_server,
    login,
    warm_up,
)
from .figures import Table, percentile

SESSIONS = int(os.environ.get("GKA_LOAD_SESSIONS", "20"))
SECONDS = float(os.environ.get("GKA_LOAD_SECONDS", "60"))
BASELINE_S = 30
ARRIVAL_S = float(os.environ.get("GKA_LOAD_ARRIVAL_S", "3"))  # users log in one after another, not in the same millisecond
PASSWORD = "load-test-wachtwoord-2026"
FAILURES = Path(tempfile.gettempdir()) / "gka-load-failures"  # a screenshot of each failed step
NAMES = {code: name for code, name, *_ in demo.GEMEENTEN}
PAGES = ["Overzicht", "Kaart", "Afstroom", "Scholen", "Ouderopleiding", "Gesprek"]


class Account(NamedTuple):
    username: str
    role: str
    gemeenten: tuple[str, ...]


def accounts(count: int) -> list[Account]:
    """Gemeente staff of each demo gemeente, regio users of two, and beheerders, in turn."""
    codes = sorted(NAMES)
    pairs = [(codes[i], codes[(i + 1) % len(codes)]) for i in range(len(codes))]
    made = []
    for i in range(count):
        kind = i % 5
        if kind < 3:
            made.append(Account(f"gemeente{i:02d}", "gemeente", (codes[i % len(codes)],)))
        elif kind == 3:
            made.append(Account(f"regio{i:02d}", "regio", pairs[i % len(pairs)]))
        else:
            made.append(Account(f"beheer{i:02d}", "beheerder", ()))
    return made


class Step(NamedTuple):
    user: str
    kind: str
    ms: float
    problem: str  # empty when the page was right


async def session(browser, base: str, account: Account, arrival: float, deadline: float,
                  steps: list[Step]) -> None:
    await asyncio.sleep(arrival)
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="nl-NL")
    context.set_default_timeout(TIMEOUT_MS)  # slow is measured, not failed
    page = await context.new_page()
    allowed = set(NAMES) if account.role == "beheerder" else set(account.gemeenten)
    outside = [code for code in NAMES if code not in allowed]

    async def record(kind: str, action, heading: str | None = None, text: str | None = None) -> None:
        """``heading`` or ``text``: what is on screen once the app has answered, and was not before."""
        start = time.perf_counter()
        problem = ""
        try:
            await action()
            shown = page.get_by_role("heading", name=heading) if heading else page.get_by_text(text)
            await shown.first.wait_for(timeout=TIMEOUT_MS)
            await page.wait_for_function(IDLE, timeout=TIMEOUT_MS)
            problem = await _problems(page, outside)
        except Exception as exc:  # a timeout or a vanished element is a failed interaction
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            FAILURES.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(FAILURES / f"{account.username}-{kind.replace(' ', '-')}.png"))
        steps.append(Step(account.username, kind, (time.perf_counter() - start) * 1000, problem))

    try:
        start = time.perf_counter()
        attempts = await login(page, base, account.username, PASSWORD)
        steps.append(Step(account.username, "login" if attempts == 1 else "login, tweede poging",
                          (time.perf_counter() - start) * 1000, await _problems(page, outside)))
        if outside:
            await record("link buiten bevoegdheid", lambda: page.goto(f"{base}/kaart?gemeente={outside[0]}", timeout=TIMEOUT_MS),
                         text="buiten uw bevoegdheid")
        sidebar = page.get_by_test_id("stSidebar")
        turn = 0
        while time.time() < deadline:
            title = PAGES[turn % len(PAGES)]
            await record(f"pagina {title}", lambda: sidebar.get_by_role("link", name=title).first.click(), title)
            if title == "Kaart":
                period = ["2014-2016", "2016-2018"][turn // len(PAGES) % 2]

                async def choose_period():
                    await page.get_by_role("combobox", name="Periode").first.click()
                    await page.get_by_role("option", name=period).first.click()
                await record("filter periode", choose_period, f"Afstroom in het vo, {period}")
                if len(allowed) > 1:
                    code = sorted(allowed)[turn // len(PAGES) % len(allowed)]

                    async def choose_gemeente():
                        await sidebar.get_by_role("combobox", name="Gemeente").first.click()
                        await page.get_by_role("option", name=f"{NAMES[code]} ({code})").first.click()
                    await record("wissel gemeente", choose_gemeente, f"— {NAMES[code]}")
            turn += 1
    except Exception as exc:
        steps.append(Step(account.username, "sessie", 0.0, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"))
        FAILURES.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(FAILURES / f"{account.username}-sessie.png"))
    finally:
        await context.close()


async def _problems(page, outside: list[str]) -> str:
    """What a user should never see: an exception, or a gemeente outside the scope by name or by
    the codes of its wijken (the refusal message may name the code the link asked for)."""
    if await page.get_by_test_id("stException").count():
        return "exception on page"
    text = await page.inner_text("body")
    leaked = [NAMES[code] for code in outside if NAMES[code] in text or f"WK{code[2:]}" in text]
    return f"leak: {', '.join(leaked)}" if leaked else ""


async def drive(base: str, made: list[Account], seconds: float) -> list[Step]:
    from playwright.async_api import async_playwright
    steps: list[Step] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        await warm_up(browser, base)
        deadline = time.time() + ARRIVAL_S * len(made) + seconds
        await asyncio.gather(*(session(browser, base, account, i * ARRIVAL_S, deadline, steps)
                               for i, account in enumerate(made)))
        await browser.close()
    return steps


def prepare(database_url: str, count: int) -> list[Account]:
    engine = db.get_engine(database_url)
    demo.build_demo(engine)
    made = accounts(count)
    with engine.begin() as conn:
        for account in made:
            users.add_user(conn, account.username, role=account.role, gemeenten=account.gemeenten,
                           password=PASSWORD, by="load")
    return made


def run(table: Table) -> None:
    """One session alone first, as the floor of what this machine's browser and server take,
    then all sessions at once on the same server."""
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'load.sqlite'}"
    made = prepare(url, SESSIONS)
    with app_server(url) as (base, server):
        for accounts_now, seconds in ((made[-1:], BASELINE_S), (made, SECONDS)):
            wall, cpu = time.perf_counter(), _cpu_seconds(server.pid)
            steps = asyncio.run(drive(base, accounts_now, seconds))
            report(table, steps, accounts_now, time.perf_counter() - wall, _cpu_seconds(server.pid) - cpu)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(table: Table, steps: list[Step], made: list[Account], wall: float, cpu: float) -> None:
    logins = [s for s in steps if s.kind.startswith("login") and not s.problem]
    answered = [s for s in steps if s not in logins and s.kind != "sessie" and not s.problem]
    failed = [s for s in steps if s.problem]
    leaks = [s for s in failed if s.problem.startswith("leak")]
    times = [s.ms for s in answered]
    roles = ", ".join(f"{sum(a.role == r for a in made)} {r}" for r in ("gemeente", "regio", "beheerder")
                      if any(a.role == r for a in made))
    label = f"load, {len(made)} session{'s' if len(made) > 1 else ''}"
    lines = [
        ("load: sessions at once (users), wall time", f"{len(made)} ({roles}), {wall:.0f} s", "", None),
        ("load: interactions answered / failed", f"{len(answered)} / {len(failed) - len(leaks)}", "0 failed",
         len(failed) == len(leaks)),
        ("load: pages showing another scope's gemeente", f"{len(leaks)}", "0", not leaks),
        ("load: app server CPU (share of one core) / per interaction or login",
         f"{cpu / wall:.0%} / {cpu * 1000 / max(1, len(steps)):.0f} ms", "", None),
    ]
    if times:
        lines.append(("load: interaction time median / p95 / max",
                      f"{statistics.median(times):.0f} / {percentile(times, 0.95):.0f} / {max(times):.0f} ms", "", None))
        for kind in sorted({s.kind for s in answered if not s.kind.startswith("pagina")}):
            kind_times = [s.ms for s in answered if s.kind == kind]
            lines.append((f"load: {kind} median / p95", f"{statistics.median(kind_times):.0f} / "
                          f"{percentile(kind_times, 0.95):.0f} ms ({len(kind_times)}×)", "", None))
    if logins:
        ms = [s.ms for s in logins]
        retried = sum(s.kind != "login" for s in logins)
        lines.append(("load: login to first page median / p95 (logins that took a second click)",
                      f"{statistics.median(ms):.0f} / {percentile(ms, 0.95):.0f} ms ({retried})", "", None))
    for what, figure, budget, ok in lines:
        table.add(what.replace("load", label, 1), figure, budget, ok)
    for step in failed[:10]:
        print(f"  {step.user} {step.kind}: {step.problem}")


if __name__ == "__main__":
    run(Table())
