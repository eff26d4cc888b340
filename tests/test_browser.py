"""The real thing: the app served by Streamlit, driven in headless Chromium (Debian's)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gka_dash import db, demo

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'gka.sqlite'}"
    demo.build_demo(db.get_engine(url))
    port = _free_port()
    env = {**os.environ, "GKA_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                             "--server.port", str(port), "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser.new_page(viewport={"width": 1400, "height": 900})
        browser.close()


def test_login_view_logout_and_back_shows_no_data(server, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server + "/?gemeente=GM9901")
    page.get_by_label("Gebruikersnaam").wait_for(timeout=30000)
    assert page.get_by_text("Geladen gegevens").count() == 0
    page.get_by_label("Gebruikersnaam").fill("veenhaven")
    page.get_by_label("Wachtwoord").fill(demo.DEMO_USERS[2][3])
    page.get_by_role("button", name="Inloggen").click()
    page.get_by_text("Geladen gegevens").wait_for(timeout=30000)
    assert page.get_by_text("Demo gemeente Veenhaven").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "overzicht.png"), full_page=True)

    page.get_by_role("button", name="Uitloggen").click()
    page.get_by_label("Gebruikersnaam").wait_for(timeout=30000)
    page.go_back()
    page.wait_for_timeout(2000)
    assert page.get_by_text("Geladen gegevens").count() == 0
    assert page.locator("[data-testid='stMetric']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "after-logout-back.png"), full_page=True)
