"""The real thing: the app served by Streamlit, driven in headless Chromium (Debian's)."""

import contextlib
import io
import math
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from sqlalchemy import func, select

from gka_dash.access import auth
from gka_dash import db, demo, queries
from gka_dash.schema import audit_log, observation, school

from . import identity_provider, two_step

CHROMIUM = "/usr/bin/chromium"
IDLE = "document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state') === 'notRunning'"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'gka.sqlite'}"
    demo.build_demo(db.get_engine(url))
    return url


@pytest.fixture(scope="module")
def server(database):
    with _serve(database) as base:
        yield base


@contextlib.contextmanager
def _serve(url: str, warm: bool = True, port: int | None = None, **extra_env):
    port = port or _free_port()
    env = {**os.environ, "GKA_DATABASE_URL": url, **extra_env}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"server-{port}.log", "wb")  # read back by _server_log when a test fails
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"),
                             "--server.port", str(port), "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    try:
        if warm:
            _warm_up(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _server_log(base: str, lines: int = 40) -> str:
    """The end of the server's own log, for a failure message: what the server said when the
    browser did not get what it waited for."""
    path = ARTIFACTS / f"server-{base.rsplit(':', 1)[-1]}.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _warm_up(url: str) -> None:
    """One session on the entry page first, so that the tests measure a server that has loaded
    its modules (the first run imports pandas, geopandas, altair …)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(url + "/")
        page.get_by_label("Gebruikersnaam").first.wait_for(timeout=60000)
        page.wait_for_timeout(1000)
        browser.close()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1400, "height": 1600}, locale="nl-NL")
        yield context.new_page()
        browser.close()


def test_a_fresh_servers_first_visitor_on_a_page_link_gets_the_apps_navigation(database, page):
    """Issue #17: the first session of a new process, opened on a page URL, used to run that page
    file on its own (Streamlit's pages-directory mode): the sidebar listed the files and the
    presentation switch was missing."""
    with _serve(database, warm=False) as fresh:
        page.goto(fresh + "/kaart?gemeente=GM9901")
        _login(page)
        page.get_by_role("heading", name=re.compile("Veenhaven")).first.wait_for(timeout=60000)
        _settled(page)
        links = page.locator("[data-testid=stSidebarNav] a").all_inner_texts()
        assert [text.split()[-1] for text in links] == ["Overzicht", "Kaart", "Afstroom", "Scholen", "Ouderopleiding",
                                                    "Gesprek", "Sessies"]
        assert page.get_by_label("Presentatiemodus").count() == 1


def test_login_view_logout_and_back_shows_no_data(server, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server + "/?gemeente=GM9901")
    _login_form(page)
    assert page.get_by_text("Geladen gegevens").count() == 0
    _login(page)
    page.get_by_text("Geladen gegevens").first.wait_for(timeout=30000)
    assert page.get_by_text("Demo gemeente Veenhaven").count() >= 1
    assert page.get_by_role("link", name="Landelijk").count() == 0  # for beheerders and regio users
    page.screenshot(path=str(ARTIFACTS / "overzicht.png"), full_page=True)

    page.get_by_role("button", name="Uitloggen").click()
    _login_form(page)
    page.go_back()
    _settled(page)  # the run the back button started has ended: whatever it shows is all it shows
    assert page.get_by_text("Geladen gegevens").count() == 0
    assert page.locator("[data-testid='stMetric']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "after-logout-back.png"), full_page=True)


def _login_form(page):
    """The username field once exactly one login form has been on screen for a moment: a run may
    draw the form anew (a fresh server's pages-directory run, the cookie component's rerun)
    while the old one is still there."""
    field, password = page.get_by_label("Gebruikersnaam"), page.get_by_label("Wachtwoord")
    field.first.wait_for(timeout=30000)
    stable = 0
    for _ in range(240):
        stable = stable + 1 if field.count() == 1 and password.count() == 1 else 0
        if stable == 4:
            break
        page.wait_for_timeout(250)
    return field


def _login(page, username="veenhaven", password=None, code=None):
    """Log in through the form; ``code`` gives the second factor's code when the account has one
    (a beheerder outside the demo)."""
    _login_form(page).fill(username)
    page.get_by_label("Wachtwoord").fill(password or dict((u, pw) for u, _, _, pw, _ in demo.DEMO_USERS)[username])
    page.get_by_role("button", name="Inloggen").click()
    if code is not None:
        field = page.get_by_label("Code uit de authenticator-app (of een herstelcode)")
        field.wait_for(timeout=60000)
        field.fill(code())
        page.get_by_role("button", name="Bevestigen").click()
    # The first run after login writes the login cookie through a component, whose answer starts
    # one more run; clicking a filter during that run can hit an element being redrawn.
    _login_cookie(page.context, present=True)
    _settled(page)


def test_a_shared_link_opens_its_view_after_login_and_back_forward_follow_the_filters(server, page):
    page.goto(server + "/kaart?gemeente=GM9901&periode=2014-2016")
    _login(page)
    heading = page.get_by_role("heading", name="Afstroom in het vo, 2014-2016 — Veenhaven")
    heading.first.wait_for(timeout=30000)
    page.get_by_role("combobox", name="Periode").click()
    page.get_by_role("option", name="2016-2018").click()
    page.get_by_role("heading", name="Afstroom in het vo, 2016-2018 — Veenhaven").first.wait_for(timeout=30000)
    assert "periode=2016-2018" in page.url
    page.go_back()
    heading.first.wait_for(timeout=30000)
    assert "periode=2014-2016" in page.url
    page.go_forward()
    page.get_by_role("heading", name="Afstroom in het vo, 2016-2018 — Veenhaven").first.wait_for(timeout=30000)


def _choose(page, label, option):
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).click()


VIEWS = {  # page title → (text once drawn, a filter change, text after it, parameter it sets)
    "Kaart": ("Afstroom in het vo, 2016-2018 — Dijkstede",
              lambda p: _choose(p, "Verschil met", "2014-2016"), "Verandering 2014-2016 → 2016-2018", "vergelijk"),
    "Afstroom": ("Kaart van de verandering",
                 lambda p: p.get_by_text("Opstroom in het vo").first.click(), "Opstroom in het vo per wijk",
                 "indicator=opstroom_pct"),
    "Scholen": ("Over deze indicator: Gemiddeld toetsadvies",
                lambda p: _choose(p, "Uitkomst (verticaal)", "Gemiddeld schooladvies"),
                "Over deze indicator: Gemiddeld schooladvies", "indicator=schooladvies_gem"),
    "Ouderopleiding": ("In 2018 zat in Dijkstede", lambda p: _choose(p, "Gemeente", "Veenhaven (GM9901)"),
                       "In 2018 zat in Veenhaven", "gemeente=GM9901"),
    "Landelijk": ("Afstroom in het vo, 2016-2018 — wijken (36)", lambda p: _choose(p, "Periode", "2014-2016"),
                  "Afstroom in het vo, 2014-2016 — wijken (36)", "periode=2014-2016"),
}


@pytest.mark.parametrize("title", VIEWS)
def test_every_view_draws_and_follows_a_filter_change(server, page, title):
    ready, change, after, param = VIEWS[title]
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server + "/?gemeente=GM9902")
    _login(page, "regio")
    page.get_by_role("link", name=title).click()
    page.get_by_text(ready).first.wait_for(timeout=30000)
    _settled(page)
    page.locator("canvas, svg.marks").first.wait_for(timeout=60000)  # drawn after its text, later when busy
    page.screenshot(path=str(ARTIFACTS / f"{title.lower()}.png"), full_page=True)
    change(page)
    page.get_by_text(after).first.wait_for(timeout=30000)
    assert param in page.url
    _settled(page)
    page.screenshot(path=str(ARTIFACTS / f"{title.lower()}-changed.png"), full_page=True)
    assert "Waldersum" not in page.content()  # outside the regio user's scope


def test_csv_download_holds_the_table_and_is_audited(server, database, page):
    page.goto(server + "/")
    _login(page)
    page.get_by_role("link", name="Kaart").click()
    page.get_by_role("button", name="Download tabel (CSV)").first.wait_for(timeout=30000)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download tabel (CSV)").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("Wijk;Wijkcode;Afstroom in het vo 2016-2018 (%)")
    assert "onderdrukt: minder dan 10 leerlingen" in text and "synthetisch (demo)" in text
    deadline = time.time() + 10  # the audit entry is written by the rerun the click starts
    while time.time() < deadline:
        with db.get_engine(database).connect() as conn:
            exports = conn.execute(select(audit_log.c.detail).where(
                audit_log.c.action == "export", audit_log.c.username == "veenhaven")).scalars().all()
        if info.value.suggested_filename in exports:
            break
        time.sleep(0.5)
    assert info.value.suggested_filename in exports


def _observations(database) -> int:
    with db.get_engine(database).connect() as conn:
        return conn.execute(select(func.count()).select_from(observation)).scalar_one()


def _upload(page, kind: str, name: str, content: bytes) -> None:
    """As a person does it: choose the file, see it listed, then press Inlezen. Pressing before
    the upload has reached the server imports the file chosen before, or none."""
    _choose(page, "Soort bestand", kind)
    # Choosing the kind reruns the form; on a busy machine the old uploader is briefly still there.
    page.wait_for_function("document.querySelectorAll('input[type=file]').length === 1", timeout=60000)
    page.locator("input[type=file]").set_input_files(files=[{"name": name, "mimeType": "text/csv", "buffer": content}])
    page.get_by_test_id("stFileUploader").get_by_text(name).first.wait_for(timeout=30000)
    page.wait_for_function(
        "document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state') === 'notRunning'")
    page.get_by_role("button", name="Inlezen").click()


@pytest.fixture(scope="module")
def real_database(tmp_path_factory):
    """The demo's areas in a database that is no longer the demo (the demo refuses real
    imports), with a beheerder of its own and no demo accounts, as a real deployment has."""
    from gka_dash.access import users
    from .conftest import as_real
    url = f"sqlite:///{tmp_path_factory.mktemp('real') / 'gka.sqlite'}"
    engine = db.get_engine(url)
    demo.build_demo(engine)
    as_real(engine)
    with engine.begin() as conn:
        users.add_user(conn, "beheer", role="beheerder", password=REAL_PASSWORD)
    return url


REAL_PASSWORD = "een-eigen-beheer-wachtwoord"
REAL_KEY = "een-eigen-sleutel-van-minstens-32-tekens-lang"


@pytest.fixture(scope="module")
def real_server(real_database):
    with _serve(real_database, GKA_COOKIE_KEY=REAL_KEY) as base:
        yield base


@pytest.fixture(scope="module")
def real_code(real_database):
    """The beheerder's authenticator app: outside the demo a beheerder logs in with a second factor."""
    secret = two_step.enrol(real_database, "beheer", REAL_KEY)
    return lambda: two_step.next_code(real_database, "beheer", secret)


def _password_step(page, username: str, password: str) -> None:
    """The login form's first step only: what follows (a code, an enrolment) is the test's."""
    _login_form(page).fill(username)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()


def _log_out(page) -> None:
    """Once the session stands (its cookie set and the page drawn), log out and wait for the form."""
    page.get_by_role("button", name="Uitloggen").wait_for(timeout=60000)
    _login_cookie(page.context, present=True)
    _settled(page)
    page.get_by_role("button", name="Uitloggen").click()
    _login_form(page)


def test_a_new_beheerder_enrols_an_authenticator_app_and_then_logs_in_with_its_codes(real_server, real_database, page):
    """Issue #26, as a person meets it: a beheerder's first login asks for the app (QR code and
    the key to type), then shows ten recovery codes once; the next login asks for a code, refuses
    a wrong one in Dutch and takes the right one. No session exists before the second step."""
    import pyotp
    from gka_dash.access import users
    with db.get_engine(real_database).begin() as conn:
        users.add_user(conn, "nieuw", role="beheerder", password=REAL_PASSWORD)
    page.goto(real_server + "/")
    _password_step(page, "nieuw", REAL_PASSWORD)
    page.get_by_text("Tweede factor instellen").first.wait_for(timeout=60000)
    page.get_by_role("button", name="Koppelen").wait_for(timeout=60000)
    assert page.get_by_role("link", name="Beheer").count() == 0  # no way into Beheer before the second factor
    qr = page.get_by_role("img", name="QR-code voor de authenticator-app")
    qr.wait_for(timeout=60000)
    assert qr.bounding_box()["width"] >= 200  # big enough for a phone's camera
    _settled(page)
    page.screenshot(path=str(ARTIFACTS / "tweede-factor-instellen.png"))  # looked at
    assert not any(c["name"] == auth.COOKIE_NAME for c in page.context.cookies())  # no session yet
    app = pyotp.TOTP(page.locator("[data-testid='stCode']").first.inner_text().replace(" ", "").strip())
    page.get_by_label("Code uit de app").fill(app.now())
    page.get_by_role("button", name="Koppelen").click()
    page.get_by_text("Uw herstelcodes").first.wait_for(timeout=60000)
    codes = page.locator("[data-testid='stCode']").first.inner_text().split()
    assert len(codes) == 10
    page.get_by_role("button", name="Ik heb de herstelcodes bewaard").click()
    _log_out(page)

    _password_step(page, "nieuw", REAL_PASSWORD)
    field = page.get_by_label("Code uit de authenticator-app (of een herstelcode)")
    field.fill("000000" if app.now() != "000000" else "111111")
    page.get_by_role("button", name="Bevestigen").click()
    page.get_by_text("Die code klopt niet.").first.wait_for(timeout=60000)
    field.fill(codes[0])  # a recovery code, once
    page.get_by_role("button", name="Bevestigen").click()
    _log_out(page)

    _password_step(page, "nieuw", REAL_PASSWORD)  # guessing codes ends in the same lock as guessing passwords
    field = page.get_by_label("Code uit de authenticator-app (of een herstelcode)")

    def wrong_codes() -> int:
        with db.get_engine(real_database).connect() as conn:
            return conn.execute(select(func.count()).where(audit_log.c.username == "nieuw",
                                                           audit_log.c.action == "second_factor_failed")).scalar()
    for _ in range(8):
        _settled(page)
        if page.get_by_text("Inloggen mislukt").count():
            break
        before = wrong_codes()
        field.fill(codes[0])  # used up: wrong now
        page.get_by_role("button", name="Bevestigen").click()
        for _ in range(240):  # until the server has counted it
            if wrong_codes() > before:
                break
            page.wait_for_timeout(250)
    page.get_by_text("Inloggen mislukt").first.wait_for(timeout=60000)
    assert _login_form(page).count() == 1  # back at the start, locked (the form is drawn under the sentence)
    with db.get_engine(real_database).connect() as conn:
        actions = set(conn.execute(select(audit_log.c.action).where(audit_log.c.username == "nieuw")).scalars())
    assert {"second_factor_on", "second_factor_failed", "recovery_code_used", "login", "lockout"} <= actions, actions


def test_the_organisation_account_logs_in_at_its_provider_and_logs_out_there_too(real_database, page, monkeypatch):
    """Issue #26 in Chromium, against a real OpenID Connect provider on loopback: the login page
    offers the organisation's account; the provider's form sends the person back to the link they
    opened, with the role and gemeente the beheerder's rule gives; the logout ends the session at
    the provider too. A person no rule knows reads in Dutch why there is no access."""
    from gka_dash.access import oidc
    with identity_provider.running() as idp:
        port = _free_port()
        idp.register(f"http://127.0.0.1:{port}/_gka/oidc/terug")
        for name, value in idp.environment().items():
            monkeypatch.setenv(name, value)
        idp.person("vh-1", email="medewerker@veenhaven.nl", name="Mo Medewerker", groups=["gka-veenhaven"])
        idp.person("x-9", email="iemand@elders.nl", groups=["iets-anders"])
        with db.get_engine(real_database).begin() as conn:
            oidc.add_rule(conn, "testorg", "groups", "gka-veenhaven", "gemeente", ["GM9901"], by="beheer")
        with _serve(real_database, warm=False, port=port, GKA_COOKIE_KEY=REAL_KEY, **idp.environment()) as base:
            page.goto(base + "/afstroom?gemeente=GM9901")
            _login_form(page)
            page.screenshot(path=str(ARTIFACTS / "login-organisatie.png"))  # looked at
            page.get_by_role("link", name="Inloggen met Testorganisatie").click()
            page.wait_for_url(re.compile(re.escape(idp.issuer) + "/oauth2/authorize"), timeout=60000)
            page.get_by_placeholder("sub").fill("vh-1")
            page.get_by_role("button", name="Authorize").click()
            page.get_by_role("heading", name="Afstroom en opstroom", exact=True).first.wait_for(timeout=60000)
            assert page.url.startswith(base + "/afstroom") and "gemeente=GM9901" in page.url
            assert page.get_by_text("Mo Medewerker").count() >= 1  # the sidebar's name, from the provider
            cookie = next(c for c in page.context.cookies() if c["name"] == auth.COOKIE_NAME)
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            page.goto(base + "/afstroom?gemeente=GM9902")  # only their own gemeente
            page.get_by_text("valt buiten uw bevoegdheid").first.wait_for(timeout=60000)
            _settled(page)
            page.get_by_role("button", name="Uitloggen").click()
            page.wait_for_url(re.compile(re.escape(idp.issuer) + "/oauth2/end_session"), timeout=60000)
            assert "id_token_hint=" in page.url
            page.get_by_role("button", name="End session").click()  # the provider ends its session and sends back
            page.wait_for_url(re.compile(re.escape(base) + "/"), timeout=60000)
            _login_form(page)
            copy = page.context.browser.new_context()  # the cookie as it was: revoked here too
            copy.add_cookies([cookie])
            again = copy.new_page()
            again.goto(base + "/")
            assert _login_form(again).count() == 1
            copy.close()

            page.goto(base + "/")
            page.get_by_role("link", name="Inloggen met Testorganisatie").click()
            page.get_by_placeholder("sub").fill("x-9")
            page.get_by_role("button", name="Authorize").click()
            page.get_by_text("Uw organisatie-account geeft (nog) geen toegang").first.wait_for(timeout=60000)
            assert _login_form(page).count() == 1  # the form under the sentence, once it is drawn
    with db.get_engine(real_database).connect() as conn:
        refused = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "oidc_refused")).scalars().all()
    assert any("x-9" in d for d in refused), refused


def test_beheer_upload_refuses_a_bad_file_whole_and_stores_a_good_one(real_server, real_database, real_code, page):
    server, database = real_server, real_database
    page.goto(server + "/")
    _login(page, "beheer", REAL_PASSWORD, real_code)
    page.get_by_role("link", name="Beheer").click()
    page.get_by_role("tab", name="Gegevens inlezen").click()
    before = _observations(database)
    good_row = "opstroom_pct,WK990101,2018-2020,,12.5,40\n"
    bad = ("indicator,subject,period,group,value,n\n" + good_row + "opstroom_pct,WK990102,2018-2020,,140,40\n").encode()
    _upload(page, "Indicatoren in het lange CSV-formaat", "afstroom-fout.csv", bad)
    error = page.get_by_text("Niet ingelezen; er is niets opgeslagen.").first
    error.wait_for(timeout=180000)
    message = error.inner_text()
    assert "afstroom-fout.csv" in message and "row 3" in message and "value" in message, message
    assert _observations(database) == before  # the good first row did not slip in either
    page.screenshot(path=str(ARTIFACTS / "beheer-upload-error.png"), full_page=True)

    good = ("indicator,subject,period,group,value,n\n" + good_row).encode()
    _upload(page, "Indicatoren in het lange CSV-formaat", "afstroom-goed.csv", good)
    # The import runs in a process of its own (importers.isolated), which on a busy machine takes
    # a while to start: wait for the answer, not for a fixed time.
    page.get_by_text("opgeslagen: 1 waarnemingen").first.wait_for(timeout=180000)
    assert _observations(database) == before + 1
    with db.get_engine(database).connect() as conn:
        imports = conn.execute(select(audit_log.c.detail).where(
            audit_log.c.action == "import", audit_log.c.username == "beheer")).scalars().all()
    assert any("afstroom-goed.csv" in d for d in imports), imports


def _login_cookie(context, present: bool) -> None:
    """Wait until the login cookie is (or is no longer) in the browser: a component writes it."""
    for _ in range(240):
        if any(c["name"] == auth.COOKIE_NAME for c in context.cookies()) == present:
            return
        time.sleep(0.25)
    raise AssertionError(f"login cookie {'never set' if present else 'still there'}")


def test_the_login_cookie_survives_a_lost_request_and_a_click_at_once(server, page):
    """Issue #17: the cookie was written by a component drawn in one run only, so a rerun before
    it mounted, or a request lost on the way, left a login that ended with its tab. Here the
    first request is lost and the user goes to another page the moment the menu appears."""
    calls = []

    def lose_the_first(route):
        calls.append(route.request.method)
        route.abort() if len(calls) == 1 else route.continue_()

    page.route("**/_gka/sessie", lose_the_first)
    page.goto(server + "/")
    _login_form(page).fill("veenhaven")
    page.get_by_label("Wachtwoord").fill(dict((u, pw) for u, _, _, pw, _ in demo.DEMO_USERS)["veenhaven"])
    page.get_by_role("button", name="Inloggen").click()
    page.get_by_role("link", name="Kaart").click()
    _login_cookie(page.context, present=True)
    assert len(calls) >= 2  # the first was lost, a later one set it
    second = page.context.new_page()  # a new tab gets in on the cookie alone
    second.goto(server + "/kaart?gemeente=GM9901")
    second.get_by_role("heading", name=re.compile("^Afstroom in het vo, .* — Veenhaven$")).first.wait_for(timeout=30000)
    assert second.get_by_label("Gebruikersnaam").count() == 0


def test_the_login_cookie_reopens_the_app_until_logout(server, page):
    page.goto(server + "/")
    _login(page)
    page.get_by_text("Geladen gegevens").first.wait_for(timeout=30000)
    _login_cookie(page.context, present=True)
    second = page.context.new_page()  # a new tab: a new Streamlit session, the same cookie jar
    second.goto(server + "/kaart?gemeente=GM9901")
    second.get_by_role("heading", name=re.compile("^Afstroom in het vo, .* — Veenhaven$")).first.wait_for(timeout=30000)
    assert second.get_by_label("Gebruikersnaam").count() == 0
    second.close()

    page.get_by_role("button", name="Uitloggen").click()
    _login_form(page)
    _login_cookie(page.context, present=False)
    third = page.context.new_page()
    third.goto(server + "/kaart?gemeente=GM9901")
    _login_form(third)  # stable for a second: one form, and it stays
    _settled(third)
    assert third.get_by_label("Gebruikersnaam").count() == 1
    assert third.locator("[data-testid='stMetric'], canvas").count() == 0


def test_the_report_opens_offline_with_its_charts(database, page, tmp_path):
    from gka_dash.exports import report
    from gka_dash.scope import Scope
    engine = db.get_engine(database)
    made = report.build(engine, Scope.of("GM9901"), "GM9901", "Veenhaven", views=list(report.VIEWS), author="Demo")
    path = tmp_path / "rapport.html"
    path.write_text(report.to_html(made), encoding="utf-8")
    requested = []
    page.context.set_offline(True)
    page.on("request", lambda r: requested.append(r.url))
    page.goto(path.as_uri())
    page.get_by_role("heading", name="Verdiepend gesprek — Veenhaven (GM9901)").first.wait_for()
    assert [u for u in requested if not u.startswith("file:")] == []
    assert page.locator("figure svg").count() == len(report.VIEWS)
    assert page.locator("figure svg").first.bounding_box()["height"] > 200  # drawn, not an empty box
    page.screenshot(path=str(ARTIFACTS / "rapport-html.png"), full_page=True)


def test_presentation_mode_shows_no_sidebar_or_names_and_can_be_left(server, database, page):
    page.goto(server + "/scholen?gemeente=GM9902&presentatie=1")
    _login(page, "regio")
    page.get_by_text("Overige scholen").first.wait_for(timeout=30000)  # the chart's legend is drawn
    page.wait_for_function(IDLE, timeout=30000)
    with db.get_engine(database).connect() as conn:
        real_names = conn.execute(select(school.c.name).where(school.c.gemeente_code == "GM9902")).scalars().all()
    assert not [name for name in real_names if name in page.content()]  # pseudonyms only
    assert not page.locator("[data-testid='stSidebar']").is_visible()
    assert page.get_by_text("Demo regiocoördinator").count() == 0
    assert page.get_by_role("button", name=re.compile("^(Download tabel|Grafiek als|Deel deze)")).count() == 0
    page.screenshot(path=str(ARTIFACTS / "presentatie-scholen.png"), full_page=True)
    page.get_by_role("link", name="Gesprek").click()
    page.get_by_role("heading", name="De vier vragen").first.wait_for(timeout=30000)
    _settled(page)
    page.screenshot(path=str(ARTIFACTS / "presentatie-gesprek.png"), full_page=True)
    assert not page.get_by_text("Schoolnamen als pseudoniem").is_visible()  # behind "Weergave"
    page.get_by_role("button", name="Weergave", exact=True).click()
    page.get_by_role("button", name="Presentatiemodus uit").click()
    page.get_by_text("Ingelogd als").first.wait_for(timeout=30000)
    page.wait_for_function("!location.search.includes('presentatie')", timeout=30000)  # the URL follows the run
    assert page.get_by_role("button", name="Weergave", exact=True).count() == 0


MAIN_VIEW = {"kaart": "[data-testid=stDeckGlJsonChart]", "afstroom": "[data-testid=stVegaLiteChart]",
             "scholen": "[data-testid=stVegaLiteChart]", "ouderopleiding": "[data-testid=stVegaLiteChart]",
             "gesprek": "[class*=st-key-highlight_]"}


def test_presentation_mode_opens_on_the_view_in_the_upper_half_of_the_screen(server, page):
    """Issue #24: at 1080 pixels high the map started at y ≈ 930 under toggles and filters. Now
    every page's main view starts in the upper half of the first screen at full HD and at
    1440 × 900, the controls folded behind "Weergave", nothing for the audience to misread."""
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(server + "/?gemeente=GM9905")
    _login(page, "grootzeestad")
    starts = {}
    for width, height in ((1920, 1080), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        for view, selector in MAIN_VIEW.items():
            page.goto(f"{server}/{view}?gemeente=GM9905&presentatie=1")
            main = page.locator(selector).first
            main.wait_for(timeout=60000)
            page.wait_for_function(IDLE, timeout=60000)
            _settled(page)
            page.wait_for_function(f"document.querySelector({selector!r}).getBoundingClientRect().height > 150",
                                   timeout=60000)
            starts[(width, view)] = page.evaluate(f"document.querySelector({selector!r}).getBoundingClientRect().top")
            assert starts[(width, view)] < height / 2, (width, view, starts[(width, view)])
            assert page.get_by_role("button", name=re.compile("^(Download tabel|Grafiek als|Deel deze|Rapport als)")).count() == 0
            assert not page.get_by_text("Schoolnamen als pseudoniem").is_visible()
            assert not page.get_by_label("Gemeente", exact=True).first.is_visible()  # folded behind "Weergave"
            page.screenshot(path=str(ARTIFACTS / f"presentatie-{view}-{width}.png"))  # looked at
    print("main view starts (px from the top):", starts)
    page.get_by_role("button", name="Weergave", exact=True).click()  # the presenter's controls, one click away
    page.get_by_text("Schoolnamen als pseudoniem").wait_for(timeout=30000)
    assert page.get_by_label("Gemeente", exact=True).first.is_visible()


def test_share_link_reopens_exactly_the_view(server, page):
    page.goto(server + "/")
    _login(page)
    page.get_by_role("link", name="Kaart").click()
    _choose(page, "Periode", "2014-2016")
    _choose(page, "Verschil met", "2016-2018")
    heading = "Verandering 2014-2016 → 2016-2018 — Veenhaven"
    page.get_by_role("heading", name=heading).first.wait_for(timeout=30000)
    page.get_by_role("button", name="Deel deze weergave").click()
    link = page.locator("[data-testid='stCode'] code").inner_text().strip()
    assert link.startswith(server + "/kaart?") and "periode=2014-2016" in link and "vergelijk=2016-2018" in link
    _login_cookie(page.context, present=True)
    other = page.context.new_page()
    other.goto(link)
    other.get_by_role("heading", name=heading).first.wait_for(timeout=30000)
    assert other.url == link


def _session_cookie(context) -> dict:
    _login_cookie(context, present=True)
    return next(c for c in context.cookies() if c["name"] == auth.COOKIE_NAME)


def _opens_with(page, server: str, cookie: dict) -> bool:
    """Whether a fresh browser holding only this cookie gets into the app (a stolen copy)."""
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([cookie])
    other = context.new_page()
    other.goto(server + "/")
    logged_in, form = other.get_by_text("Geladen gegevens"), other.get_by_label("Gebruikersnaam")
    other.wait_for_function("() => document.body.innerText.includes('Geladen gegevens') || "
                            "document.body.innerText.includes('Gebruikersnaam')", timeout=30000)
    result = logged_in.count() > 0 and form.count() == 0
    context.close()
    return result


@pytest.mark.parametrize("ending", ["logout", "password reset", "lock"])
def test_a_copied_login_cookie_stops_working_when_the_session_ends(server, database, page, ending):
    """The attack of issue #14: replay a cookie after logout, a password reset or a lock."""
    from gka_dash.access import users
    page.goto(server + "/")
    _login(page, "waldersum")
    page.get_by_text("Geladen gegevens").first.wait_for(timeout=30000)
    cookie = _session_cookie(page.context)
    assert cookie["sameSite"] == "Strict" and cookie["httpOnly"]
    assert page.evaluate("document.cookie").find(auth.COOKIE_NAME) == -1  # no script in the page can read it
    assert _opens_with(page, server, cookie)  # the control: a copy works while the session lasts
    engine = db.get_engine(database)
    if ending == "logout":
        page.get_by_role("button", name="Uitloggen").click()
        _login_form(page)
    elif ending == "password reset":
        with engine.begin() as conn:
            users.reset_password(conn, "waldersum", dict((u, pw) for u, _, _, pw, _ in demo.DEMO_USERS)["waldersum"])
    else:
        from datetime import timedelta
        with engine.begin() as conn:  # locked everywhere: failures from several origins
            for origin in range(users.GLOBAL_LOCK_FACTOR):
                for _ in range(5):
                    users.record_login(conn, "waldersum", False, origin=f"10.0.0.{origin}", max_failures=5,
                                       lockout=timedelta(seconds=1))
    assert not _opens_with(page, server, cookie)


CITY_PASSWORD = "rotterdam-openbare-data"


@pytest.fixture(scope="module")
def public_server(tmp_path_factory):
    """Rotterdam and Amsterdam on public data only, loaded with import-folder."""
    from gka_dash.access import users
    from gka_dash.importers.folder import import_folder
    from .conftest import RAW
    url = f"sqlite:///{tmp_path_factory.mktemp('public') / 'gka.sqlite'}"
    engine = db.get_engine(url)
    db.init_db(engine)
    assert not import_folder(engine, RAW, year=2015).failed
    _rotterdam_pupils_by_postcode(engine, tmp_path_factory.mktemp("duo"))
    with engine.begin() as conn:
        users.add_user(conn, "rotterdam", role="gemeente", gemeenten=["GM0599"], password=CITY_PASSWORD)
    with _serve(url, GKA_COOKIE_KEY="een-eigen-sleutel-van-minstens-32-tekens-lang") as base:
        yield base


def _rotterdam_pupils_by_postcode(engine, folder):
    """DUO's pupils by home postcode for Rotterdam's real schools, in the layouts of 2019-2020 and
    2023-2024 (issue #25): with the real APCG list, Scholen has % APCG for them."""
    from gka_dash.importers.duo_postcodes import import_pupils_by_postcode
    from gka_dash.scope import Scope
    from . import duo_layouts
    schools = queries.schools(engine, Scope.everything(), "GM0599")
    with engine.connect() as conn:
        postcodes = dict(conn.execute(select(school.c.id, school.c.postcode).where(school.c.gemeente_code == "GM0599")).all())
    schools = schools.assign(postcode=schools["id"].map(postcodes))
    for year, era in (("2019", "L"), ("2023", "2023")):
        path = duo_layouts.po_postcode_old(folder / f"03.-leerlingen-po-totaaloverzicht-{year}-{int(year) + 1}.csv",
                                           duo_layouts.pupils_near_schools(schools, peildatum=f"{year}1001", era=era,
                                                                           seed=int(year)), era=era)
        import_pupils_by_postcode(engine, path)


PLOT = """() => {  // the plot area of the first chart: what its grid lines span, and its legend entries
  const svg = document.querySelector('[data-testid=stVegaLiteChart] svg.marks');
  const grid = [...svg.querySelectorAll('g.role-axis-grid')].map(g => g.getBoundingClientRect());
  return {height: Math.max(...grid.map(r => r.bottom)) - Math.min(...grid.map(r => r.top)),
          legend: svg.querySelectorAll('g.role-legend-label text').length};
}"""


@contextlib.contextmanager
def _as_rotterdam(url: str):
    """A Chromium page at 1440 × 900, logged in as Rotterdam's user, on ``url``."""
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="nl-NL").new_page()
        page.goto(url)
        _login(page, "rotterdam", CITY_PASSWORD)
        try:
            yield page
        finally:
            browser.close()


def test_scholen_for_rotterdam_keeps_its_plot_at_the_size_of_a_big_city(public_server):
    """170 schools: the plot keeps its height, no legend of 170 names; every page looked at."""
    with _as_rotterdam(public_server + "/scholen") as page:
        page.locator("[data-testid=stVegaLiteChart] svg.marks g.role-axis-grid").first.wait_for(timeout=60000)
        page.wait_for_function(IDLE, timeout=60000)
        measured = page.evaluate(PLOT)
        assert measured["height"] >= 250 and measured["legend"] <= 20, measured
        page.screenshot(path=str(ARTIFACTS / "rotterdam-scholen.png"), full_page=True)
        for name, ready in (("overzicht", "Geladen gegevens"), ("kaart", "Bijstandsuitkeringen, 2015 — Rotterdam"),
                            ("afstroom", "maatwerktabel"), ("ouderopleiding", "maatwerktabel"),
                            ("gesprek", "Wat valt op")):
            page.get_by_role("link", name=name.capitalize()).click()
            page.get_by_text(ready).first.wait_for(timeout=60000)
            page.wait_for_function(IDLE, timeout=60000)
            if name == "overzicht":  # metrics paint after the run has ended
                page.locator("[data-testid=stMetricValue]").first.wait_for(timeout=60000)
            page.wait_for_function("document.fonts.status === 'loaded'", timeout=60000)  # icons, not their names
            page.screenshot(path=str(ARTIFACTS / f"rotterdam-{name}.png"), full_page=True)


AXES = """() => [...document.querySelectorAll('[data-testid=stVegaLiteChart] svg.marks g.role-axis-title text')]
  .map(t => t.textContent)"""
POINTS = """() => document.querySelectorAll('[data-testid=stVegaLiteChart] svg.marks')[0]
  .querySelectorAll('g.mark-symbol path, g.mark-symbol.role-mark path').length"""


def test_scholen_for_rotterdam_draws_the_share_of_pupils_from_an_apcg_on_public_data(public_server):
    """Issue #25: DUO's pupils by home postcode for Rotterdam's real schools, joined with the real
    APCG list, make the original chart: schooladvies against % APCG, with the list named."""
    with _as_rotterdam(public_server + "/scholen") as page:
        page.get_by_text("L+A 2014").first.wait_for(timeout=60000)
        page.wait_for_function(IDLE, timeout=60000)
        titles = page.evaluate(AXES)
        assert "Leerlingen uit APCG (%)" in titles, titles
        assert page.evaluate(POINTS) >= 100  # Rotterdam's schools in 2019-2020 and 2023-2024
        page.screenshot(path=str(ARTIFACTS / "rotterdam-scholen-apcg.png"), full_page=True)


def test_a_download_address_yields_nothing_without_a_live_session(server, page):
    """The attack of issue #14: fetch the file behind a download button from its /media
    address without logging in, and after logging out."""
    page.goto(server + "/kaart")
    _login(page)
    button = page.get_by_role("button", name="Download tabel (CSV)").first
    button.wait_for(timeout=30000)
    page.wait_for_function(IDLE, timeout=30000)
    content = page.content()
    assert not re.search(r"(?<!static)/media/", content)  # no file is sent with the page
    font = re.search(r'(static/media/[^"]+\.woff2)', content).group(1)  # the app's own files stay open
    with page.expect_download() as info:
        button.click()
    address = info.value.url
    assert "/media/" in address and Path(info.value.path()).read_text(encoding="utf-8-sig").startswith("Wijk;")
    assert page.context.request.get(address).status == 200  # the logged-in browser may fetch it again
    stranger = page.context.browser.new_context()
    assert stranger.request.get(address).status == 403  # no session cookie
    assert stranger.request.get(f"{server}/{font}").status == 200  # the login page's fonts need none
    stranger.close()
    cookie = _session_cookie(page.context)
    page.get_by_role("button", name="Uitloggen").click()
    _login_form(page)
    replay = page.context.browser.new_context()
    replay.add_cookies([cookie])
    assert replay.request.get(address).status == 403  # the session has ended
    replay.close()


def test_the_server_sets_a_session_cookie_only_for_a_live_session_from_this_site(server, database, page):
    from datetime import timedelta

    from gka_dash.access import sessions
    with db.get_engine(database).begin() as conn:
        live = sessions.create(conn, "veenhaven", timedelta(minutes=5))
        ticket = sessions.ticket(conn, live, auth.DEMO_COOKIE_KEY)
        other = sessions.ticket(conn, live, auth.DEMO_COOKIE_KEY)
    api = page.context.request
    assert api.post(server + "/_gka/sessie", data="een-verzonnen-ticket").status == 403
    assert api.post(server + "/_gka/sessie", data=live).status == 403  # the token itself is no ticket
    assert api.post(server + "/_gka/sessie", data=ticket, headers={"Origin": "https://elders.example"}).status == 403
    answer = api.post(server + "/_gka/sessie", data=ticket)
    assert answer.status == 204
    assert api.post(server + "/_gka/sessie", data=ticket).status == 403  # a ticket serves once
    assert api.post(server + "/_gka/sessie", data=other).status == 204
    set_cookie = answer.headers["set-cookie"]
    assert set_cookie.startswith(f"{auth.COOKIE_NAME}={live}") and "HttpOnly" in set_cookie
    assert "SameSite=strict" in set_cookie or "SameSite=Strict" in set_cookie
    # A clear that arrives late, after a new login set a live cookie, leaves it; a dead one goes.
    assert "set-cookie" not in api.post(server + "/_gka/uitloggen").headers
    with db.get_engine(database).begin() as conn:
        sessions.revoke(conn, live, "logout")
    assert api.post(server + "/_gka/uitloggen").headers["set-cookie"].startswith(f'{auth.COOKIE_NAME}=""')


def _painted(page, element) -> bytes:
    """Wait until a WebGL map has finished drawing: two screenshots of it in a row are the same
    (software rendering without a GPU fades a map in over seconds). Returns that picture."""
    previous = None
    for _ in range(120):
        shot = element.screenshot()
        if shot == previous:
            return shot
        previous = shot
        page.wait_for_timeout(500)
    raise AssertionError("the map kept changing")


def _black_pixels(png: bytes) -> int:
    import numpy as np
    from PIL import Image
    return int((np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).max(axis=2) < 50).sum())


def _settled(page) -> None:
    """Wait until the script run has finished: Streamlit shows its status widget ("Stop") while
    a run is under way; absent on several checks in a row means the page is drawn."""
    quiet = 0
    for _ in range(600):
        quiet = quiet + 1 if page.locator("[data-testid='stStatusWidget']").count() == 0 else 0
        if quiet == 4:
            return
        page.wait_for_timeout(250)
    raise AssertionError("the page kept running")


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core as npm ships its current release (package.json pins it): the Python wrapper
    bundled an older axe that missed a contrast fault the current one reports (issue #24).
    Installed from package-lock.json on first use, so ``pytest`` stays the one command."""
    if not AXE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True, capture_output=True,
                       timeout=300)
    return AXE.read_text()


def _axe(page, script: str, options: dict | None = None) -> dict:
    """One axe-core run on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=script)
    return page.evaluate("options => axe.run(document, options)", options or {})


AXE_PAGES = ["/", "/kaart", "/afstroom", "/scholen", "/ouderopleiding", "/gesprek"]
AXE_BLOCKING = ("critical", "serious")


@pytest.mark.parametrize("username", ["beheer", "regio", "veenhaven"])
def test_axe_finds_nothing_critical_or_serious_and_headings_in_order_on_every_page(server, page, axe_script,
                                                                                    username):
    """axe-core (WCAG 2.1 AA rules, the current npm release) on every page, for every role,
    logged in and presenting. Fails on any critical or serious violation and on a heading that
    skips a level; the per-page results go to tests/artifacts/axe-results-<role>.json
    (summarised in docs/toegankelijkheid.md)."""
    import json

    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server + "/")
    _login(page, username)
    results, titles = {}, set()
    for mode in ("", "&presentatie=1"):
        for path in AXE_PAGES:
            page.goto(f"{server}{path}?gemeente=GM9901{mode}")
            page.locator("h1").first.wait_for(timeout=60000)
            _settled(page)
            found = _axe(page, axe_script, {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                                                  "wcag21aa", "best-practice"]}})
            violations = found["violations"]
            results[path + mode] = {
                "title": page.title(), "axe": found["testEngine"]["version"],
                "violations": [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in violations]}
            blocking = [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations
                        if v["impact"] in AXE_BLOCKING or v["id"] == "heading-order"]
            assert not blocking, (path + mode, blocking)
            levels = page.evaluate("[...document.querySelectorAll('section.main h1, section.main h2, section.main h3,"
                                   " section.main h4, [data-testid=stMain] h1, [data-testid=stMain] h2,"
                                   " [data-testid=stMain] h3, [data-testid=stMain] h4')].map(h => +h.tagName[1])")
            assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), (path + mode, levels)
            titles.add(page.title())
    assert {r["axe"] for r in results.values()} == {json.loads((ROOT / "package.json").read_text())
                                                    ["devDependencies"]["axe-core"]}
    (ARTIFACTS / f"axe-results-{username}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    assert len(titles) == len(AXE_PAGES)  # a tab title per page, the same whether presenting or not


def test_axe_control_sees_the_faults_the_audits_found(page, axe_script):
    """The control for the test above: the map legend as it was (a list without list items)
    is a critical violation to the same axe run, and the legend as it is now is not; the
    sidebar caption as it was (#707172 on #f0f3f7, 4,39:1) is a serious one."""
    page.set_content('<html lang="nl"><head><title>t</title></head><body><main><h1>Kaart</h1>'
                     '<div style="background:#f0f3f7"><p style="color:#707172;font-size:14px">Ingelogd als Demo</p>'
                     '</div></main></body></html>')
    found = _axe(page, axe_script)["violations"]
    assert any(v["id"] == "color-contrast" and v["impact"] == "serious" for v in found), found
    item = '<span{role} style="display:inline-flex"><span aria-hidden="true" style="width:18px"></span>Klasse</span>'
    for role, critical in (("", True), (' role="listitem"', False)):
        page.set_content(f'<html lang="nl"><head><title>t</title></head><body><main><h1>Kaart</h1>'
                         f'<div role="list" aria-label="Legenda">{item.format(role=role)}</div></main></body></html>')
        found = _axe(page, axe_script)["violations"]
        assert any(v["id"] == "aria-required-children" and v["impact"] == "critical" for v in found) == critical


def _screen_point(deck_state: dict, lon: float, lat: float, width: float, height: float) -> tuple[float, float]:
    """Where deck.gl draws (lon, lat): Web Mercator in a 512-pixel world scaled by 2^zoom around
    the view's centre, y pointing down on screen."""
    def world(lo, la):
        return (512 * (lo + 180) / 360,
                512 / (2 * math.pi) * (math.pi + math.log(math.tan(math.pi / 4 + math.radians(la) / 2))))
    scale = 2 ** deck_state["zoom"]
    (x, y), (cx, cy) = world(lon, lat), world(deck_state["longitude"], deck_state["latitude"])
    return width / 2 + (x - cx) * scale, height / 2 - (y - cy) * scale


def test_clicking_a_wijk_on_the_map_selects_it_in_the_list_the_url_and_the_table(server, database, page):
    import shapely

    from gka_dash import geometry, queries
    from gka_dash.scope import Scope

    areas = queries.areas(db.get_engine(database), Scope.of("GM9901"), "GM9901")
    shapes = [shapely.from_geojson(g) for g in areas["geometry"]]
    target = int(max(range(len(shapes)), key=lambda i: shapes[i].area))  # the largest: hard to miss
    point = shapes[target].representative_point()
    code, name = areas["code"][target], areas["name"][target]

    page.goto(server + "/kaart?gemeente=GM9901")
    _login(page)
    chart = page.locator("[data-testid='stDeckGlJsonChart']").first
    chart.wait_for(timeout=60000)
    _settled(page)
    canvas = chart.locator("canvas").first
    canvas.wait_for(timeout=60000)
    box = canvas.bounding_box()
    state = geometry.fit(geometry.bounds(areas["geometry"]))._asdict()  # the view the map opens on
    x, y = _screen_point(state, point.x, point.y, box["width"], box["height"])
    page.mouse.click(box["x"] + x, box["y"] + y)  # deck.gl's own layer over the canvas takes the click
    page.wait_for_url(re.compile(rf"wijk={code}"), timeout=60000)
    _settled(page)
    page.get_by_text(f"{name} ({code})").first.wait_for(timeout=30000)  # the list shows the clicked wijk
    page.screenshot(path=str(ARTIFACTS / "kaart-wijk-gekozen.png"), full_page=True)


def _focused_title(page, text: str) -> None:
    page.wait_for_function("t => document.activeElement && document.activeElement.tagName === 'H1'"
                           " && document.activeElement.textContent.includes(t)", arg=text, timeout=60000)


def test_keyboard_only_login_page_change_filter_and_presentation(server, page):
    """Keyboard only: log in with Tab and Enter, focus lands on the page title; a menu link
    opened with Enter puts focus on the new page's title; a filter and the presentation switch
    change with Space; every control reached by Tab shows a focus ring of at least 2 px."""
    page.goto(server + "/?gemeente=GM9901")
    _login_form(page).first.focus()
    page.keyboard.type("veenhaven")
    page.keyboard.press("Tab")
    page.keyboard.type(dict((u, pw) for u, _, _, pw, _ in demo.DEMO_USERS)["veenhaven"])
    page.keyboard.press("Enter")
    _focused_title(page, "Overzicht")
    _login_cookie(page.context, present=True)
    assert page.evaluate("document.documentElement.lang") == "nl"  # Streamlit ships lang="en"

    rings = []
    for _ in range(12):  # the first controls after the title, as Tab reaches them
        page.keyboard.press("Tab")
        rings.append(page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                                   " return [document.activeElement.tagName, s.outlineStyle, parseFloat(s.outlineWidth)]; })()"))
    assert all(style != "none" and width >= 2 for tag, style, width in rings if tag in ("BUTTON", "A", "INPUT")), rings

    page.get_by_role("link", name="Afstroom").focus()
    page.keyboard.press("Enter")
    _focused_title(page, "Afstroom en opstroom")
    page.get_by_role("radio", name="Opstroom in het vo").focus()
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r"indicator=opstroom_pct"), timeout=60000)
    _settled(page)
    page.get_by_label("Presentatiemodus").focus()
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r"presentatie=1"), timeout=60000)


def test_presenting_at_1920_by_1080_big_numbers_fit_their_cards(server, page):
    """The projector: in presentation mode at full HD every key figure is shown whole, not cut
    off with an ellipsis, and the chart text is the projector's (checked in test_chart_text)."""
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(server + "/?gemeente=GM9905")
    _login(page, "grootzeestad")
    page.goto(server + "/?gemeente=GM9905&presentatie=1")
    page.locator("[data-testid='stMetricValue']").first.wait_for(timeout=60000)
    _settled(page)
    cut = page.evaluate("[...document.querySelectorAll('[data-testid=stMetricValue]')]"
                        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
    assert page.locator("[data-testid='stMetricValue']").count() >= 8
    assert cut == []
    page.goto(server + "/kaart?gemeente=GM9905&presentatie=1")
    page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.wait_for(timeout=60000)
    _settled(page)
    chart = page.locator("[data-testid='stDeckGlJsonChart']").first
    chart.scroll_into_view_if_needed()
    page.get_by_text("Onderdrukt: minder dan 10 leerlingen").first.wait_for(timeout=60000)  # the legend under it
    named = _painted(page, chart)
    page.screenshot(path=str(ARTIFACTS / "kaart-presentatie-1920.png"))  # looked at
    # The wijk names are written on the map: black letters, which nothing else on it is (the
    # outlines and the darkest grey are lighter). Without presentation mode there are none.
    page.goto(server + "/kaart?gemeente=GM9905&presentatie=0")
    page.get_by_text("Ingelogd als").first.wait_for(timeout=60000)  # the sidebar: not presenting
    _settled(page)
    plain = _painted(page, page.locator("[data-testid='stDeckGlJsonChart']").first)
    assert _black_pixels(named) > 2000 and _black_pixels(plain) < 50, (_black_pixels(named), _black_pixels(plain))


def test_keyboard_only_gemeente_download_and_note(server, page):
    """The rest of the keyboard flows: choose a gemeente in the list with the arrow keys, take a
    CSV with Enter on its button, write and save a note without the mouse."""
    page.goto(server + "/afstroom?gemeente=GM9901")
    _login(page, "regio")
    _focused_title(page, "Afstroom en opstroom")
    page.get_by_label("Gemeente").first.focus()
    page.keyboard.type("Dijkst")  # the list filters as one types
    page.get_by_role("option", name="Dijkstede (GM9902)").wait_for(timeout=30000)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"gemeente=GM9902"), timeout=60000)
    button = page.get_by_role("button", name="Download tabel (CSV)")
    for attempt in (1, 2, 3):  # a rerun that redraws the page takes the focus away, as it would a person's
        _settled(page)
        try:
            with page.expect_download(timeout=60000) as download:
                button.press("Enter")  # focuses the button as drawn now, then the key
            break
        except PlaywrightTimeout:
            if attempt == 3:
                raise AssertionError("no download after Enter; the page says: "
                                     f"{page.locator('body').inner_text()[-600:]!r}\nthe server: {_server_log(server)}")
    assert download.value.suggested_filename.endswith(".csv") and "GM9902" in download.value.suggested_filename

    page.goto(server + "/gesprek?gemeente=GM9902")
    _focused_title(page, "Gesprek")
    _settled(page)
    page.get_by_role("textbox").nth(2).focus()  # question 3: Wat kunnen we doen?
    page.keyboard.type("Schoolmaatschappelijk werk in Dijkstede uitbreiden.")
    page.keyboard.press("Tab")  # to the form's Opslaan button
    page.keyboard.press("Enter")
    page.get_by_text("Laatst gewijzigd door").first.wait_for(timeout=60000)
    assert page.get_by_role("textbox").nth(2).input_value() == "Schoolmaatschappelijk werk in Dijkstede uitbreiden."


# Issue #23: the holes an attacker found, each tried again here the way it was found.

def _shows_login_form_only(page) -> bool:
    page.wait_for_function("() => document.body.innerText.includes('Geladen gegevens') || "
                           "document.body.innerText.includes('Gebruikersnaam')", timeout=30000)
    _settled(page)
    return page.get_by_label("Gebruikersnaam").count() == 1 and page.get_by_text("Geladen gegevens").count() == 0


def test_a_forged_library_cookie_with_the_right_key_logs_nobody_in(server, database, page):
    """streamlit-authenticator's own cookie, a JWT {username, exp_date} signed with the cookie
    key, used to log in as anyone, a locked account too, and to clear its lock."""
    import jwt
    from datetime import timedelta

    from gka_dash.access import users
    engine = db.get_engine(database)

    def logins() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(audit_log).where(
                audit_log.c.action == "login", audit_log.c.username.in_(["beheer", "grootzeestad"]))).scalar()

    before = logins()
    with engine.begin() as conn:
        for origin in range(users.GLOBAL_LOCK_FACTOR):
            for _ in range(5):
                users.record_login(conn, "grootzeestad", False, origin=f"10.9.9.{origin}", max_failures=5,
                                   lockout=timedelta(minutes=30))
    try:
        for who in ("beheer", "grootzeestad"):
            token = jwt.encode({"username": who, "exp_date": time.time() + 3600}, auth.DEMO_COOKIE_KEY,
                               algorithm="HS256")
            page.context.add_cookies([{"name": auth.LIBRARY_COOKIE_NAME, "value": token, "url": server + "/"}])
            page.goto(server + "/?gemeente=GM9901")
            assert _shows_login_form_only(page), who
        with engine.connect() as conn:
            assert users.get_user(conn, "grootzeestad").locked()  # the lock stands
        assert logins() == before
    finally:
        with engine.begin() as conn:
            users.unlock(conn, "grootzeestad")
    _login(page, "beheer")  # the control: the form itself still logs in
    page.get_by_text("Geladen gegevens").first.wait_for(timeout=30000)


EVIL_PAGE = """<!doctype html><title>elders</title><script>
window.result = null;
const socket = new WebSocket("ws://127.0.0.1:%d/_stcore/stream", ["streamlit", "PLACEHOLDER_AUTH_TOKEN"]);
socket.onopen = () => { window.result = "open"; socket.close(); };
socket.onerror = () => { window.result = window.result || "refused"; };
socket.onclose = () => { window.result = window.result || "refused"; };
</script>"""


@contextlib.contextmanager
def _another_port(html: str):
    """A page served from another port of the same host, as an attacker's local service would."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


def test_a_page_on_another_port_of_the_host_cannot_open_the_apps_websocket(server, page):
    page.goto(server + "/")
    _login(page)
    port = int(server.rsplit(":", 1)[1])
    script = EVIL_PAGE % port
    # The control: the same script on the app's own origin opens the socket.
    page.evaluate("html => { const s = document.createElement('script'); s.textContent = "
                  "html.split('<script>')[1].split('</script>')[0]; document.body.appendChild(s); }", script)
    page.wait_for_function("() => window.result !== null", timeout=30000)
    assert page.evaluate("window.result") == "open"
    with _another_port(script) as elsewhere:
        page.goto(elsewhere)
        page.wait_for_function("() => window.result !== null", timeout=30000)
        assert page.evaluate("window.result") == "refused"
    answer = page.context.request.post(server + "/_stcore/upload_file/x/y", headers={"Origin": elsewhere[:-1]})
    assert answer.status == 403


def test_a_download_made_for_one_session_is_delivered_to_no_other(server, page):
    page.goto(server + "/kaart")
    _login(page)
    button = page.get_by_role("button", name="Download tabel (CSV)").first
    button.wait_for(timeout=30000)
    page.wait_for_function(IDLE, timeout=30000)
    with page.expect_download() as info:
        button.click()
    address = info.value.url
    assert page.context.request.get(address).status == 200  # its own session may fetch it again
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    someone = other.new_page()
    someone.goto(server + "/")
    _login(someone, "waldersum")
    someone.get_by_text("Geladen gegevens").first.wait_for(timeout=30000)
    assert other.request.get(address).status == 403  # a live session, but not the one that made it
    other.close()


def test_a_download_button_drawn_before_the_scope_narrowed_yields_nothing(server, database, page):
    from gka_dash.access import users
    page.goto(server + "/kaart?gemeente=GM9902")
    _login(page, "regio")
    button = page.get_by_role("button", name="Download tabel (CSV)").first
    button.wait_for(timeout=30000)
    page.wait_for_function(IDLE, timeout=30000)
    assert _downloads(page, button)  # the control: the button works while the scope stands
    engine = db.get_engine(database)
    with engine.begin() as conn:
        users.set_role(conn, "regio", role="regio", gemeenten=["GM9901"])
    try:
        assert not _downloads(page, button)
    finally:
        with engine.begin() as conn:
            users.set_role(conn, "regio", role="regio", gemeenten=["GM9901", "GM9902"])


def _downloads(page, button, tries: int = 3) -> bool:
    """Whether a click on the button delivers a file. A click can meet a button that a rerun is
    just drawing anew (its old file id is void until the new one has arrived), so it is tried a
    few times, each waiting a while for the download to start."""
    for _ in range(tries):
        try:
            with page.expect_download(timeout=8000):
                button.click()
            return True
        except PlaywrightTimeout:
            continue
    return False


def test_the_session_token_never_passes_through_the_pages_script(server, page):
    """The page's script asked the server to set the cookie by posting the token itself; now it
    posts a one-time ticket, and nothing the page's script sends or receives holds the token."""
    seen = []
    page.on("request", lambda request: seen.append((request.url, request.post_data or "")))
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: seen.append(("ws", str(frame)))))
    page.goto(server + "/")
    _login(page)
    token = _session_cookie(page.context)["value"]
    assert any(url.endswith("/_gka/sessie") for url, _ in seen)  # the control: the call was seen
    assert not [url for url, body in seen if token in body or token in url]


def test_metrics_need_a_login_and_no_page_can_be_framed(server, page):
    stranger = page.context.request
    assert stranger.get(server + "/_stcore/metrics").status == 403
    home = stranger.get(server + "/")
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert home.headers["x-frame-options"] == "DENY"
    page.goto(server + "/")
    _login(page)  # a gemeente user: the server's metrics are not theirs
    assert page.context.request.get(server + "/_stcore/metrics").status == 403
    page.get_by_role("button", name="Uitloggen").click()
    _login_form(page)
    _login(page, "beheer")
    assert page.context.request.get(server + "/_stcore/metrics").status == 200


def test_guessing_the_current_password_counts_and_locks_like_a_login(server, database, page):
    """A stolen session must not become a way to guess the password: wrong current passwords in
    "Wachtwoord wijzigen" are counted, audited and lock this origin out, ending the session."""
    from gka_dash.access import users
    page.goto(server + "/")
    _login(page, "grootzeestad")
    cookie = _session_cookie(page.context)
    page.get_by_text("Wachtwoord wijzigen").click()
    for attempt in range(5):
        page.get_by_label("Huidig wachtwoord").fill(f"geraden-wachtwoord-{attempt}")
        page.get_by_label("Nieuw wachtwoord (minstens 12 tekens)").fill("een-heel-nieuw-wachtwoord")
        page.get_by_label("Herhaal").fill("een-heel-nieuw-wachtwoord")
        page.get_by_role("button", name="Wijzigen").click()
        if attempt < 4:
            page.get_by_text("Het huidige wachtwoord klopt niet.").first.wait_for(timeout=30000)
            _settled(page)
    _login_form(page)  # the fifth wrong guess: this origin is locked out and the session is over
    assert not _opens_with(page, server, cookie)
    engine = db.get_engine(database)
    with engine.connect() as conn:
        failed = conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.action == "password_change_failed", audit_log.c.username == "grootzeestad")).scalar()
    assert failed == 5
    with engine.begin() as conn:
        users.unlock(conn, "grootzeestad")


PAGE_TITLES = {"overzicht": "Overzicht", "kaart": "Kaart", "afstroom": "Afstroom en opstroom", "scholen": "Scholen",
               "ouderopleiding": "Ouderopleiding", "gesprek": "Gesprek"}


def test_every_page_url_is_a_link_before_and_after_login_and_an_unknown_one_is_said_in_dutch(server, page):
    """Issue #24: ``/overzicht`` opened the main page behind an English "Page not found". Every
    page's URL opens that page with its filters, whether the login comes first or not; a path
    that is no page gets a Dutch sentence on Overzicht."""
    page.goto(server + "/overzicht?gemeente=GM9902")
    _login(page, "regio")
    page.get_by_text("Geladen gegevens").first.wait_for(timeout=60000)
    assert "gemeente=GM9902" in page.url and page.get_by_text(re.compile("Dijkstede")).count() >= 1
    for path, title in PAGE_TITLES.items():  # logged in: each link straight to its page and gemeente
        page.goto(f"{server}/{path}?gemeente=GM9902")
        page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60000)
        _settled(page)
        assert page.get_by_text("Page not found").count() == 0, path
        assert "gemeente=GM9902" in page.url, (path, page.url)
    page.goto(server + "/bestaat-niet?gemeente=GM9902")
    page.get_by_text("De pagina “bestaat-niet” bestaat niet").first.wait_for(timeout=60000)
    assert page.get_by_text("Page not found").count() == 0
    page.get_by_role("heading", name="Overzicht", exact=True).first.wait_for(timeout=60000)


def test_a_link_to_a_page_outside_the_menu_opens_after_login_and_the_page_gates_itself(server, page):
    """Sessies, Landelijk and Beheer were registered only after login, so a link to them opened
    Streamlit's English "Page not found" behind the login form. Now every page is there before
    login; the menu lists only the user's own, and Beheer refuses a regio user in Dutch."""
    browser = page.context.browser
    for path, wanted in (("sessies", "Waar u bent ingelogd"), ("landelijk", "Waar staat uw gemeente"),
                         ("beheer", "Deze pagina is alleen voor beheerders.")):
        context = browser.new_context(viewport={"width": 1400, "height": 1600}, locale="nl-NL")
        page = context.new_page()
        page.goto(f"{server}/{path}")
        _login(page, "regio")
        page.get_by_text(wanted).first.wait_for(timeout=60000)
        assert page.get_by_text("Page not found").count() == 0, path
        assert page.get_by_role("link", name="Beheer").count() == 0  # not in a regio user's menu
        context.close()


def test_back_goes_back_one_page_per_press(server, page):
    """Issue #24: a page visit left one history entry per filter it wrote, so Back re-ran the
    same page and seemed to stay there. One entry per page (and per filter change, which the
    test above steps through); Back walks the pages in reverse."""
    page.goto(server + "/?gemeente=GM9901")
    _login(page)
    visited = ["Overzicht"]
    for link, title in (("Kaart", "Kaart"), ("Afstroom", "Afstroom en opstroom"), ("Scholen", "Scholen")):
        page.get_by_role("link", name=link).click()
        page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60000)
        _settled(page)
        visited.append(title)
    for title in reversed(visited[:-1]):
        page.go_back()
        page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60000)
        _settled(page)
        assert page.locator("[data-testid=stMain] h1").first.inner_text().startswith(title), title


def test_an_agreement_recorded_from_a_highlight_is_in_the_report_the_pdf_and_the_slides(server, page, tmp_path):
    """Issue #27 as a coordinator does it: under a highlight on Gesprek, open "Wat kunnen we
    doen?", see the approaches, record an afspraak, find it under Afspraken with its follow-up,
    and take the report as HTML, PDF and PowerPoint, each with the afspraak in it (looked at)."""
    import shutil
    from pptx import Presentation
    page.goto(server + "/gesprek?gemeente=GM9905")
    _login(page, "grootzeestad")
    _focused_title(page, "Gesprek")
    _settled(page)
    page.get_by_text(re.compile(r"^Wat kunnen we doen\? Wie hebben we daarvoor nodig\?")).first.click()
    page.get_by_text("Gerangschikt naar bewijs").first.wait_for(timeout=60000)
    page.get_by_label("Trekker (organisatie of functie)").first.fill("Afdeling onderwijs")
    page.get_by_label("Doel").first.fill("Afstroom in deze wijk terug naar het gemiddelde van de gemeente")
    page.get_by_role("button", name="Afspraak opslaan").first.click()
    page.get_by_text("Afspraak opgeslagen").first.wait_for(timeout=60000)
    page.reload()
    _settled(page)
    agreed = page.get_by_text("sinds de afspraak").first
    agreed.wait_for(timeout=60000)
    agreed.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "afspraak-gesprek.png"))  # looked at
    files = {}
    for label, suffix in (("Rapport als HTML", "html"), ("Rapport als PDF", "pdf"), ("Rapport als PowerPoint", "pptx")):
        button = page.get_by_role("button", name=label)
        for attempt in (1, 2, 3):  # a rerun that redraws the page can swallow a click
            _settled(page)
            try:
                with page.expect_download(timeout=120000) as download:
                    button.click()
                break
            except PlaywrightTimeout:
                if attempt == 3:
                    raise
        files[suffix] = tmp_path / f"rapport.{suffix}"
        download.value.save_as(files[suffix])
    html_text = files["html"].read_text()
    assert "<h2>Afspraken</h2>" in html_text and "Afdeling onderwijs" in html_text
    pdf_text = subprocess.run(["pdftotext", "-layout", str(files["pdf"]), "-"], check=True, capture_output=True,
                              text=True).stdout
    assert "Afspraken" in pdf_text and "Afdeling onderwijs" in pdf_text and "sinds de afspraak" in pdf_text
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(files["pdf"])], capture_output=True,
                                                            text=True, check=True).stdout).group(1))
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", str(pages), "-l", str(pages), str(files["pdf"]),
                    str(ARTIFACTS / "afspraak-pdf")], check=True)  # the last page, looked at
    deck = Presentation(str(files["pptx"]))
    titles = [next((s.text_frame.text for s in slide.shapes if s.has_text_frame), "") for slide in deck.slides]
    found = [i for i, t in enumerate(titles, start=1) if t.startswith("Afspraak: ")]
    assert found, titles
    if shutil.which("soffice"):
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                        "--outdir", str(tmp_path / "dia"), str(files["pptx"])], check=True, capture_output=True,
                       timeout=600)
        subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", str(found[0]), "-l", str(found[0]),
                        str(tmp_path / "dia" / "rapport.pdf"), str(ARTIFACTS / "afspraak-dia")], check=True)
