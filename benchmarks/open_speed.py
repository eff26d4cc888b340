"""How fast the dashboard opens, as a ratio against a bare Streamlit page with a comparable
chart, side by side on the same machine in the same Chromium (issue #24).

- **bare**: a new tab on a one-file Streamlit app that draws one altair chart of 45 rows in two
  colours (the size of a gemeente's wijk list), from ``goto`` to the chart on screen;
- **login to first chart**: from the click on "Inloggen" to the first chart of the page the
  login lands on (a shared link to Afstroom: its wijk chart);
- **shared link**: a logged-in user opens a link to Afstroom in a new tab: from ``goto`` to the
  chart on screen.

Each is the median of ``REPEATS`` runs, alternating bare and app so that a busy moment of the
machine hits both. ``python -m benchmarks.open_speed`` writes its table into
benchmarks/RESULTS.md (the section "Opening the dashboard").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from playwright.async_api import async_playwright

from gka_dash.access import auth
from gka_dash import db, demo

from .browser import CHROMIUM, CHROMIUM_ARGS, IDLE, TIMEOUT_MS, app_server, free_port, warm_up

REPEATS = 7
BUDGET = 1.5
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Opening the dashboard"
LINK = "/afstroom?gemeente=GM9901"
DRAWN = ("[...document.querySelectorAll('[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg')]"
         ".some(e => e.getBoundingClientRect().height > 100)")

BARE = '''"""A bare Streamlit page: one altair chart of 45 rows in two colours."""
import altair as alt
import pandas as pd
import streamlit as st

st.set_page_config(page_title="Kale pagina", layout="wide")
st.title("Kale pagina")
rows = [{"wijk": f"Wijk {i:02d}", "periode": p, "waarde": 5 + (i * 7 + j * 3) % 11}
        for i in range(45) for j, p in enumerate(["2014-2016", "2016-2018"])]
st.altair_chart(alt.Chart(pd.DataFrame(rows)).mark_circle(size=110).encode(
    x="waarde:Q", y=alt.Y("wijk:N", sort=None), color="periode:N").properties(height=alt.Step(26)), width="stretch")
'''


@contextlib.contextmanager
def bare_server():
    folder = Path(tempfile.mkdtemp(prefix="gka-bare-"))
    (folder / "bare.py").write_text(BARE)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(folder / "bare.py"), "--server.port",
                             str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def _chart(page) -> float:
    await page.wait_for_function(DRAWN, timeout=TIMEOUT_MS, polling=20)
    return time.perf_counter()


async def _bare(browser, base: str) -> float:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    start = time.perf_counter()
    await page.goto(base + "/", wait_until="commit")
    seconds = await _chart(page) - start
    await context.close()
    return seconds


async def _login_to_chart(browser, base: str, password: str) -> tuple[float, float]:
    """Login from a shared link's form to its chart; then the same link in a new tab."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(base + LINK, timeout=TIMEOUT_MS)
    field = page.get_by_label("Gebruikersnaam").first
    await field.wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_function(IDLE, timeout=TIMEOUT_MS)
    await field.fill("veenhaven")
    await page.get_by_label("Wachtwoord").first.fill(password)
    start = time.perf_counter()
    await page.get_by_role("button", name="Inloggen").first.click()
    login_seconds = await _chart(page) - start
    await page.wait_for_function(IDLE, timeout=TIMEOUT_MS)
    while not any(c["name"] == auth.COOKIE_NAME for c in await context.cookies()):  # the cookie is written after the run
        await page.wait_for_timeout(100)
    tab = await context.new_page()
    start = time.perf_counter()
    await tab.goto(base + LINK, wait_until="commit")
    link_seconds = await _chart(tab) - start
    await context.close()
    return login_seconds, link_seconds


async def measure(database_url: str) -> dict[str, list[float]]:
    password = dict((u, pw) for u, _, _, pw, _ in demo.DEMO_USERS)["veenhaven"]
    found = {"bare": [], "login": [], "link": []}
    with app_server(database_url) as (base, _), bare_server() as bare:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            await warm_up(browser, base)
            await _bare(browser, bare)  # both servers warm before the first measured run
            await _login_to_chart(browser, base, password)
            for _ in range(REPEATS):
                found["bare"].append(await _bare(browser, bare))
                login_seconds, link_seconds = await _login_to_chart(browser, base, password)
                found["login"].append(login_seconds)
                found["link"].append(link_seconds)
            await browser.close()
    return found


def table(found: dict[str, list[float]]) -> str:
    bare = statistics.median(found["bare"])
    lines = [SECTION, "",
             f"`python -m benchmarks.open_speed`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{platform.platform()}, {os.cpu_count()} CPUs; medians of {REPEATS} runs in Debian's Chromium, "
             "alternating with the bare page. The ratio is the figure: both sides share the machine.", "",
             "| measure | median (runs) | bare page | ratio | budget | verdict |", "|---|---|---|---|---|---|"]
    for key, what in (("login", "login to the first chart (a link to Afstroom, 22 wijken)"),
                      ("link", "a shared link opened in a new tab, logged in, to its chart")):
        value = statistics.median(found[key])
        ratio = value / bare
        runs = ", ".join(f"{v:.2f}" for v in found[key])
        lines.append(f"| {what} | {value:.2f} s ({runs}) | {bare:.2f} s | {ratio:.2f}× | ≤ {BUDGET}× | "
                     f"{'PASS' if ratio <= BUDGET else 'FAIL'} |")
    lines.append(f"| bare Streamlit page, new tab to its chart | {bare:.2f} s "
                 f"({', '.join(f'{v:.2f}' for v in found['bare'])}) |  |  |  |  |")
    return "\n".join(lines) + "\n"


def write(text: str) -> None:
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    before, _, rest = old.partition(SECTION)
    after = rest[rest.find("\n## "):] if "\n## " in rest else ""
    RESULTS.write_text(before.rstrip() + "\n\n" + text + after)


def main() -> None:
    path = Path(tempfile.mkdtemp(prefix="gka-open-")) / "demo.sqlite"
    url = f"sqlite:///{path}"
    demo.build_demo(db.get_engine(url))
    found = asyncio.run(measure(url))
    text = table(found)
    print(text)
    write(text)


if __name__ == "__main__":
    main()
