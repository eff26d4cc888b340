"""Click to painted: how long a filter change on a map page takes until the browser shows the
new map, in headless Chromium without a GPU (WebGL drawn in software, as on the virtual desktops
many municipal staff work on).

``python -m benchmarks.paint`` writes benchmarks/RESULTS-paint.md. The server's rerun is measured
elsewhere (``benchmarks.run``: ~50 ms); this is what the person waits for. Each change is made as
a person makes it (open the list, click the option) and split where the time goes:

- *click → run*: from the click on the option until the app starts the server's run (the widget
  sends its value);
- *run*: until Streamlit marks the run finished (the server's run and the deltas it sends);
- *drawn*: the last WebGL draw call after the click (deck.gl has drawn the new layers);
- *painted*: the first screen frame (Chromium's screencast, which sends a frame whenever the
  compositor makes one) whose map area equals the map once everything has settled, and differs
  from the map before the click.

Measured on a quiet machine and with both cores kept busy by a CPU hog, the way a shared
virtual desktop is busy. The figures are medians over the repeats.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

from .browser import CHROMIUM, CHROMIUM_ARGS, IDLE, app_server, login
from .busy import busy_cpus

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT.parent / "shared" / "data" / "raw"
RESULTS = ROOT / "benchmarks" / "RESULTS-paint.md"
COOKIE_KEY = "benchmark-cookie-sleutel-van-minstens-32-tekens"
REPEAT = int(os.environ.get("GKA_PAINT_REPEAT", "6"))
TARGET_S = 1.0
VIEWPORT = {"width": 1440, "height": 900}
MAP = "[data-testid=stDeckGlJsonChart] canvas"
QUIET_MS = 1000  # no draw call and a finished run for this long: the change has settled

# Timestamps the page itself records: every WebGL draw call, the script-state changes of the
# app, and the last click (wall clock, to compare with the screencast's frame times).
PROBE = """
(() => {
  window.__gka = {draws: [], states: [], click: 0, clickEpoch: 0};
  const wrap = proto => {
    for (const name of ['drawArrays', 'drawElements', 'drawArraysInstanced', 'drawElementsInstanced']) {
      const original = proto[name];
      if (original) proto[name] = function (...args) { window.__gka.draws.push(performance.now());
                                                       return original.apply(this, args); };
    }
  };
  if (window.WebGL2RenderingContext) wrap(WebGL2RenderingContext.prototype);
  if (window.WebGLRenderingContext) wrap(WebGLRenderingContext.prototype);
  document.addEventListener('click', () => { window.__gka.click = performance.now();
                                             window.__gka.clickEpoch = Date.now(); }, true);
  const states = new MutationObserver(records => { for (const r of records)
    window.__gka.states.push([performance.now(), r.target.getAttribute('data-test-script-state')]); });
  document.addEventListener('DOMContentLoaded', () => states.observe(document.body,
    {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']}));
})();
"""
SETTLED = f"""() => {{
  const g = window.__gka, last = g.draws[g.draws.length - 1] || 0;
  return ({IDLE}) && last > g.click && performance.now() - last > {QUIET_MS};
}}"""


@dataclass
class Change:
    """A filter change on one page: the list and the two options it goes back and forth between."""

    name: str
    user: str
    password: str
    path: str
    control: str
    options: tuple[str, str]
    radio: bool = False


@dataclass
class Timing:
    run_start: float
    run_end: float
    drawn: float
    painted: float


async def _choose(page, change: Change, option: str) -> None:
    if change.radio:
        await page.get_by_text(option, exact=True).first.click()
    else:
        await page.get_by_role("combobox", name=change.control).click()
        await page.get_by_role("option", name=option, exact=True).click()


def _map_area(frame: bytes, box: dict, scale: float) -> Image.Image:
    image = Image.open(io.BytesIO(frame)).convert("RGB")
    return image.crop((round(box["x"] * scale), round(box["y"] * scale),
                       round((box["x"] + box["width"]) * scale), round((box["y"] + box["height"]) * scale)))


def _same(a: Image.Image, b: Image.Image) -> bool:
    return max(ImageStat.Stat(ImageChops.difference(a, b)).mean) < 0.5


async def measure(base: str, change: Change, repeat: int = REPEAT) -> list[Timing]:
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport=VIEWPORT, locale="nl-NL")
        await context.add_init_script(PROBE)
        page = await context.new_page()
        await login(page, base, change.user, change.password)
        await page.goto(base + change.path)
        canvas = page.locator(MAP).first
        await canvas.wait_for(timeout=180_000)
        await page.wait_for_function(SETTLED, timeout=180_000)
        await canvas.scroll_into_view_if_needed()
        box = await canvas.bounding_box()
        cdp = await context.new_cdp_session(page)
        frames: list[tuple[float, bytes]] = []

        def on_frame(event):
            frames.append((event["metadata"]["timestamp"], base64.b64decode(event["data"])))
            asyncio.ensure_future(cdp.send("Page.screencastFrameAck", {"sessionId": event["sessionId"]}))

        cdp.on("Page.screencastFrame", on_frame)
        await cdp.send("Page.startScreencast", {"format": "png", "everyNthFrame": 1})
        timings = []
        for i in range(repeat + 1):  # the first change warms the server's cache for the other option
            frames.clear()
            await page.wait_for_timeout(200)  # the screencast has sent the current picture
            before = frames[-1][1] if frames else await page.screenshot()
            await _choose(page, change, change.options[i % 2])
            await page.wait_for_function(SETTLED, timeout=180_000)
            probe = await page.evaluate("window.__gka")
            await page.wait_for_timeout(200)
            final = _map_area(frames[-1][1], box, 1.0)
            click_epoch = probe["clickEpoch"] / 1000
            if _same(_map_area(before, box, 1.0), final):
                raise RuntimeError(f"{change.name}: the map did not change with {change.options[i % 2]}")
            painted = next(ts for ts, data in frames if ts >= click_epoch and _same(_map_area(data, box, 1.0), final))
            click = probe["click"]
            states = [(t - click, s) for t, s in probe["states"] if t > click]
            if i == 0:
                continue
            timings.append(Timing(
                run_start=next((t for t, s in states if s == "running"), float("nan")) / 1000,
                run_end=next((t for t, s in reversed(states) if s == "notRunning"), float("nan")) / 1000,
                drawn=(max(probe["draws"]) - click) / 1000, painted=painted - click_epoch))
        await cdp.send("Page.stopScreencast")
        await browser.close()
    return timings


def _databases() -> dict[str, str]:
    from gka_dash import db, demo
    from gka_dash.access import users
    from gka_dash.importers.folder import import_folder
    folder = Path(tempfile.mkdtemp(prefix="gka-paint-"))
    demo_url, public_url = f"sqlite:///{folder}/demo.sqlite", f"sqlite:///{folder}/public.sqlite"
    demo.build_demo(db.get_engine(demo_url))
    engine = db.get_engine(public_url)
    db.init_db(engine)
    import_folder(engine, RAW, year=2015)
    with engine.begin() as conn:
        users.add_user(conn, "rotterdam", role="gemeente", gemeenten=["GM0599"], password=PUBLIC_PASSWORD)
    return {"demo": demo_url, "public": public_url}


PUBLIC_PASSWORD = "benchmark-wachtwoord-openbare-data"
CHANGES = {
    "demo": [
        Change("Kaart, Grootzeestad (45 wijken, demo): periode", "grootzeestad", "demo-grootzeestad-2024!",
               "/kaart?gemeente=GM9905", "Periode", ("2014-2016", "2016-2018")),
        Change("Afstroom, Grootzeestad (demo): afstroom ↔ opstroom", "grootzeestad", "demo-grootzeestad-2024!",
               "/afstroom?gemeente=GM9905", "Indicator", ("Opstroom in het vo", "Afstroom in het vo"), radio=True),
        Change("Landelijk, alle demo-wijken (beheerder): periode", "beheer", "demo-beheer-2024!",
               "/landelijk", "Periode", ("2014-2016", "2016-2018")),
    ],
    "public": [
        Change("Kaart, Rotterdam (22 wijken, openbare data): indicator", "rotterdam", PUBLIC_PASSWORD,
               "/kaart?gemeente=GM0599", "Indicator", ("Niet-westerse migratieachtergrond", "Bijstandsuitkeringen")),
    ],
}


def run_all(basemap: str = "none") -> dict[tuple[str, str], list[Timing]]:
    urls = _databases()
    results = {}
    for load in ("rustig", "beide cores bezet"):
        for where, changes in CHANGES.items():
            with app_server(urls[where], GKA_COOKIE_KEY=COOKIE_KEY, GKA_BASEMAP=basemap) as (base, _):
                for change in changes:
                    with busy_cpus() if load != "rustig" else contextlib.nullcontext():
                        timings = asyncio.run(measure(base, change))
                    results[(change.name, load)] = timings
                    print(f"{load}: {change.name}: painted median "
                          f"{statistics.median(t.painted for t in timings):.2f} s", flush=True)
    return results


def write(results: dict[tuple[str, str], list[Timing]], path: Path = RESULTS) -> None:
    def med(values):
        return f"{statistics.median(values):.2f} s"

    lines = ["# Click to painted: a filter change on a map page, in Chromium without a GPU", "",
             f"Run `python -m benchmarks.paint`. Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on "
             f"{os.cpu_count()} CPUs, Chromium with `--disable-gpu` (WebGL in software, SwiftShader), viewport "
             f"{VIEWPORT['width']}×{VIEWPORT['height']}, the app and the browser on the same machine, "
             f"{REPEAT} changes each (median). How it is measured: `benchmarks/paint.py`.", "",
             "Every column counts from the click on the option. The map can be painted before the run has "
             "finished: Streamlit draws each element as it arrives, and the page goes on below the map.", "",
             "| change | machine | run starts | run finished | last WebGL draw | **painted** (screen frame) "
             f"| budget {TARGET_S:.0f} s |", "|---|---|---|---|---|---|---|"]
    for (name, load), timings in results.items():
        painted = statistics.median(t.painted for t in timings)
        lines.append(f"| {name} | {load} | {med(t.run_start for t in timings)} | {med(t.run_end for t in timings)} | "
                     f"{med(t.drawn for t in timings)} | **{painted:.2f} s** (max {max(t.painted for t in timings):.2f}) | "
                     f"{'PASS' if painted <= TARGET_S else 'FAIL'} |")
    path.write_text("\n".join(lines + [""]), encoding="utf-8")
    print(f"written {path.relative_to(ROOT)}")


def main() -> None:
    start = time.perf_counter()
    write(run_all())
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
