"""Issue #17: two app processes behind nginx on one PostgreSQL, driven in Chromium.

What one process does, the other sees at the next click (an import, a login, a logout), and a
process that dies costs its users no data and at most one login.
"""

import os
import re
import socket
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from deploy.run import NGINX, Deployment, healthy
from gka_dash import db, demo
from gka_dash.access import users
from gka_dash.schema import observation

from . import two_step
from .conftest import POSTGRES_URL, as_real
from .test_browser import ARTIFACTS, CHROMIUM, _login, _login_cookie, _login_form, _settled, _upload

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
              pytest.mark.skipif(not Path(NGINX).exists(), reason="Debian nginx not installed"),
              pytest.mark.skipif(not POSTGRES_URL, reason="GKA_TEST_POSTGRES_URL not set")]

BEHEER, ANNA = "een-eigen-beheer-wachtwoord", "anna-haar-eigen-wachtwoord"
IMPORTED = "2018-2020 · n = 40"  # the key figure's line once the imported period is there
COOKIE_KEY = "een-eigen-sleutel-van-minstens-32-tekens-lang"


@pytest.fixture(scope="module")
def database():
    """A database of its own in the test cluster: the demo's areas, no longer the demo, with a
    beheerder and a gemeente user, as a real deployment has."""
    name = f"gka_deploy_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = db.get_engine(url)
    demo.build_demo(engine)
    as_real(engine)
    with engine.begin() as conn:
        users.add_user(conn, "beheer", role="beheerder", password=BEHEER)
        users.add_user(conn, "anna", role="gemeente", gemeenten=["GM9901"], password=ANNA)
    yield url
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def code(database):
    """The beheerder's authenticator app: outside the demo a beheerder logs in with a second factor."""
    secret = two_step.enrol(database, "beheer", COOKIE_KEY)
    return lambda: two_step.next_code(database, "beheer", secret)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def deployment(database, tmp_path):
    # Not restarted here: the test is about where the browser goes when a process is gone.
    with Deployment(2, _free_port(), tmp_path / "run", restart=False,
                    environ={**os.environ, "GKA_DATABASE_URL": database,
                             "GKA_COOKIE_KEY": COOKIE_KEY}) as running:
        yield running


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield launched
        launched.close()


def _upstreams(deployment, route: str) -> list[int]:
    """The app ports nginx sent this route's requests to, in order (from its access log)."""
    log = (deployment.run_dir / "nginx-access.log").read_text()
    return [int(port) for line in log.splitlines() if f"route={route} " in line
            for port in re.findall(r"127\.0\.0\.1:(\d+)", line.split("upstream=")[1])]


def _route_to(deployment, port: int) -> str:
    """A route cookie that nginx hashes to this app process."""
    import urllib.request
    for _ in range(200):
        route = uuid.uuid4().hex
        request = urllib.request.Request(deployment.url + "/_gka/gezond", headers={"Cookie": f"gka_route={route}"})
        urllib.request.urlopen(request, timeout=10).read()
        if _upstreams(deployment, route)[-1:] == [port]:
            return route
    raise AssertionError(f"no route found to port {port}")


def _on(browser, deployment, port: int, cookies=()):
    """A browser (its own cookie jar) that nginx sends to the app process on this port."""
    context = browser.new_context(viewport={"width": 1400, "height": 1400}, locale="nl-NL")
    context.add_cookies([{"name": "gka_route", "value": _route_to(deployment, port), "url": deployment.url},
                         *cookies])
    return context.new_page()


def _in_app(page) -> bool:
    """Whether this page got into the app (the Overzicht) rather than the login form."""
    page.wait_for_function("() => document.body.innerText.includes('Geladen gegevens') || "
                           "document.body.innerText.includes('Gebruikersnaam')", timeout=60000)
    _settled(page)
    return page.get_by_text("Geladen gegevens").count() > 0 and page.get_by_label("Gebruikersnaam").count() == 0


def _observations(url) -> int:
    with db.get_engine(url).connect() as conn:
        return conn.execute(select(func.count()).select_from(observation)).scalar_one()


def test_two_processes_share_imports_logins_and_logouts_and_survive_one_dying(deployment, database, code, browser):
    first, second = deployment.app_ports

    # A login on the first process is valid on the second.
    admin = _on(browser, deployment, first)
    admin.goto(deployment.url + "/?gemeente=GM9901")
    _login(admin, "beheer", BEHEER, code)
    assert _in_app(admin)
    login = next(c for c in admin.context.cookies() if c["name"] == "gka_dash_sessie")
    copy = _on(browser, deployment, second, [login])
    copy.goto(deployment.url + "/")
    assert _in_app(copy)

    # An import through the first process is seen at the next click on the second.
    anna = _on(browser, deployment, second)
    anna.goto(deployment.url + "/?gemeente=GM9901")
    _login(anna, "anna", ANNA)
    assert _in_app(anna) and anna.get_by_text(IMPORTED).count() == 0
    before = _observations(database)
    admin.get_by_role("link", name="Beheer").click()
    admin.get_by_role("tab", name="Gegevens inlezen").click()
    _upload(admin, "Indicatoren in het lange CSV-formaat", "tweede-proces.csv",
            b"indicator,subject,period,group,value,n\nopstroom_pct,WK990101,2018-2020,,12.5,40\n")
    admin.get_by_text("opgeslagen: 1 waarnemingen").first.wait_for(timeout=60000)
    anna.get_by_role("link", name="Kaart").click()
    _settled(anna)
    anna.get_by_role("link", name="Overzicht").click()
    anna.get_by_text(IMPORTED).first.wait_for(timeout=60000)
    assert set(_upstreams(deployment, _route(anna))) == {second} and set(_upstreams(deployment, _route(admin))) == {first}

    # A logout on the first process ends the session on the second too.
    admin.get_by_role("button", name="Uitloggen").click()
    _login_form(admin)
    copy.context.close()
    copy = _on(browser, deployment, second, [login])
    copy.goto(deployment.url + "/")
    assert not _in_app(copy)

    # The first process dies under a logged-in user: the next click goes to the second, with at
    # most one login, and nothing imported is lost.
    _login(admin, "beheer", BEHEER, code)
    _login_cookie(admin.context, present=True)
    admin.goto(deployment.url + "/?gemeente=GM9901")
    assert _in_app(admin) and admin.get_by_text(IMPORTED).count() == 1
    deployment.apps[first].kill()
    deployment.apps[first].wait()
    admin.get_by_role("link", name="Kaart").click()
    admin.wait_for_function("() => document.body.innerText.includes('Gebruikersnaam') || "
                            "document.body.innerText.includes('Afstroom in het vo, ')", timeout=60000)
    logins = 1 if admin.get_by_label("Gebruikersnaam").count() else 0
    if logins:
        _login(admin, "beheer", BEHEER, code)
    # The new process knows the page from the click but not the session's earlier gemeente
    # choice (that lived in the process that died): the user picks it again.
    admin.get_by_role("heading", name=re.compile("^Afstroom in het vo, ")).first.wait_for(timeout=60000)
    _settled(admin)
    admin.get_by_role("link", name="Overzicht").click()
    _settled(admin)
    admin.get_by_role("combobox", name="Gemeente").click()
    admin.get_by_role("option", name="Veenhaven (GM9901)").click()
    admin.get_by_text(IMPORTED).first.wait_for(timeout=60000)
    ARTIFACTS.mkdir(exist_ok=True)
    admin.screenshot(path=str(ARTIFACTS / "deploy-after-failover.png"), full_page=True)
    assert _upstreams(deployment, _route(admin))[-1] == second
    assert _observations(database) == before + 1
    assert logins == 0  # the login cookie (a session in the shared database) let it in again


def _route(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "gka_route")


def test_a_process_that_ends_is_started_again(database, tmp_path):
    with Deployment(2, _free_port(), tmp_path / "run",
                    environ={**os.environ, "GKA_DATABASE_URL": database, "GKA_COOKIE_KEY": COOKIE_KEY}) as running:
        port = running.app_ports[0]
        running.apps[port].kill()
        for _ in range(600):
            if running.restarts == 1 and healthy(f"http://127.0.0.1:{port}"):
                break
            time.sleep(0.25)
        assert running.restarts == 1 and healthy(f"http://127.0.0.1:{port}") and healthy(running.url)


def test_the_load_generator_sees_what_a_browser_would(tmp_path):
    """The capacity benchmark's sessions speak Streamlit's protocol: a live login cookie gets a
    finished run of the page, a revoked one gets the login form, counted as a lost login."""
    import asyncio
    import random

    from benchmarks import capacity
    from gka_dash.access import sessions

    url = f"sqlite:///{tmp_path / 'gka.sqlite'}"
    demo.build_demo(db.get_engine(url))
    (live, account), (dead, _) = capacity._logins(url, [capacity.Account("veenhaven", ["GM9901"])], 2)
    with db.get_engine(url).begin() as conn:
        sessions.revoke(conn, dead, "logout")

    async def one_click(base: str, token: str) -> capacity.Tally:
        tally = capacity.Tally()
        session = capacity.Session(base, token, account, random.Random(1))
        await session.connect()
        await session.run("kaart", "gemeente=GM9901&periode=2014-2016", tally)
        await session.ws.close()
        return tally

    with Deployment(1, _free_port(), tmp_path / "run", restart=False,
                    environ={**os.environ, "GKA_DATABASE_URL": url}) as running:
        seen, refused = asyncio.run(one_click(running.url, live)), asyncio.run(one_click(running.url, dead))
    assert len(seen.latencies) == 1 and seen.lost_logins == 0 and seen.errors == 0
    assert refused.lost_logins == 1


def test_the_proxy_lets_one_address_start_a_few_organisation_logins_not_thousands(deployment):
    """nginx's own bound on anonymous login starts (each stores a pending login): a burst of ten
    passes, the rest of a script's flood gets 429 before it reaches the app."""
    import urllib.error
    import urllib.request
    answers = []
    for _ in range(25):
        try:
            answers.append(urllib.request.urlopen(deployment.url + "/_gka/oidc/start?aanbieder=geen", timeout=30).status)
        except urllib.error.HTTPError as refused:
            answers.append(refused.code)
    assert answers[:10] == [200] * 10 and answers.count(429) >= 10, answers
    assert urllib.request.urlopen(deployment.url + "/_gka/gezond", timeout=30).status == 200  # the rest is not slowed
