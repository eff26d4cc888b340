"""What the benchmarks need to drive the real app: a Streamlit server on a free port, and the
signals that tell a browser's interaction is answered."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeout

from gka_dash.access import auth

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
# Streamlit marks its root with the script's state; "notRunning" once a run has drawn everything.
TIMEOUT_MS = 180_000
RETRY_LOGIN_MS = 60_000
IDLE = "document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state') === 'notRunning'"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(database_url: str, **env):
    """``streamlit run serve.py`` on localhost with this database, until the block ends."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "GKA_DATABASE_URL": database_url, "GKA_BASEMAP": "none", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the app did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def warm_up(browser, base: str) -> None:
    """One session on the entry page first: a fresh server's very first session may run a page
    file on its own (Streamlit's pages-directory mode) before app.py has set the navigation."""
    page = await browser.new_page()
    await page.goto(base + "/", timeout=TIMEOUT_MS)
    await page.get_by_label("Gebruikersnaam").first.wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_function(IDLE, timeout=TIMEOUT_MS)
    await page.close()


async def login(page, base: str, username: str, password: str, *, path: str = "/", code=None) -> int:
    """Open the app, wait for one login form to stand, log in and wait for the first page;
    ``code()`` answers the second step of an account with a second factor.

    Returns how many times the user had to log in: as a person would, it tries once more when a
    minute after clicking the form is still there (a click can land while a rerun redraws it).
    """
    await page.goto(base + path, timeout=TIMEOUT_MS, wait_until="domcontentloaded")
    field = page.get_by_label("Gebruikersnaam")
    for attempt in (1, 2):
        await field.first.wait_for(timeout=TIMEOUT_MS)
        await page.wait_for_function(IDLE, timeout=TIMEOUT_MS)
        await page.wait_for_timeout(500)
        await field.first.fill(username)
        await page.get_by_label("Wachtwoord").first.fill(password)
        await page.get_by_role("button", name="Inloggen").first.click()
        if code is not None:
            second = page.get_by_label("Code uit de authenticator-app (of een herstelcode)")
            await second.wait_for(timeout=TIMEOUT_MS)
            await second.fill(code())
            await page.get_by_role("button", name="Bevestigen").click()
        try:
            await page.get_by_role("button", name="Uitloggen").first.wait_for(
                timeout=RETRY_LOGIN_MS if attempt == 1 else TIMEOUT_MS)
            break
        except PlaywrightTimeout:
            if attempt == 2 or not await field.count():
                raise
    # The run after login writes the login cookie through a component, whose answer starts one
    # more run; a user who opens a link before the cookie is there meets the login form again.
    deadline = time.time() + TIMEOUT_MS / 1000
    while not any(c["name"] == auth.COOKIE_NAME for c in await page.context.cookies()):
        if time.time() > deadline:
            raise TimeoutError("no login cookie")
        await page.wait_for_timeout(200)
    await page.wait_for_function(IDLE, timeout=TIMEOUT_MS)
    return attempt
