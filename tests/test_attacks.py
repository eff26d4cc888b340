"""Issue #23, the holes an attacker found, tried again without a browser: each test did what the
attacker did and failed on the code before the fix (the browser ones are in test_browser.py)."""

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gka_dash import privacy, web
from gka_dash.schema import audit_log
from gka_dash.ui.chrome import plain

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_session_state_that_claims_a_login_opens_nothing(demo_engine):
    """What streamlit-authenticator's cookie path set for a forged cookie: the app used to start
    a real session for it. Only a server-side session opens the app now."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in {"authentication_status": True, "username": "beheer", "name": "Demo beheerder"}.items():
        at.session_state[key] = value
    at.run()
    assert [t.label for t in at.text_input] == ["Gebruikersnaam", "Wachtwoord"]
    assert not at.metric and "_session_token" not in at.session_state
    with demo_engine.connect() as conn:
        assert not conn.execute(select(audit_log.c.id).where(audit_log.c.action == "login")).all()


@pytest.mark.parametrize("origin, host, scheme, configured, allowed", [
    (None, "127.0.0.1:8601", "http", None, True),  # no Origin: not a browser's cross-site request
    ("http://127.0.0.1:8601", "127.0.0.1:8601", "http", None, True),
    ("http://127.0.0.1:9999", "127.0.0.1:8601", "http", None, False),  # another port of the host
    ("https://127.0.0.1:8601", "127.0.0.1:8601", "http", None, False),  # another scheme
    ("http://elders.example", "127.0.0.1:8601", "http", None, False),
    ("https://gka.example.nl", "gka.example.nl", "https", "https://gka.example.nl", True),
    ("https://gka.example.nl:8443", "gka.example.nl:8443", "https", "https://gka.example.nl", False),
    ("http://gka.example.nl", "gka.example.nl", "http", "https://gka.example.nl", False),
])
def test_only_the_apps_own_origin_may_open_the_websocket(monkeypatch, origin, host, scheme, configured, allowed):
    if configured:
        monkeypatch.setenv("GKA_PUBLIC_ORIGIN", configured)
    else:
        monkeypatch.delenv("GKA_PUBLIC_ORIGIN", raising=False)
    assert web.origin_allowed(origin, host, scheme) is allowed


@pytest.mark.parametrize("text", ["Zie https://elders.example/x of www.elders.example", "# Kop", "Kop\n===",
                                  "- een lijst", "1. genummerd", "> citaat", "![beeld](https://x.example/p.png)",
                                  "[klik](javascript:alert(1))", ":red[rood] :material/home: $x$", "| a | b |\n|---|---|"])
def test_text_from_a_file_or_a_note_is_inert_markdown(text):
    """Every ASCII punctuation mark is escaped, so that CommonMark, GFM and Streamlit's
    extensions read nothing but the characters themselves."""
    escaped = plain(text)
    lines = escaped.split("  \n")
    assert len(lines) == len(text.splitlines())
    for original, shown in zip(text.splitlines(), lines):
        assert shown.replace("\\", "") == original.replace("\\", "")
        assert all(shown[i - 1] == "\\" for i, ch in enumerate(shown) if ch in "#-.>![]():|$=*_`" and i > 0)
        assert shown[0] not in "#->!|[:$=" or shown[0] == "\\"


def test_pseudonymised_schools_are_not_placed_on_their_building():
    import pandas as pd
    schools = pd.DataFrame({"id": ["00AA00", "00AB00"], "name": ["De Klimop", "Het Anker"], "plaats": ["X", "X"],
                            "lon": [4.47712, 4.48893], "lat": [51.92231, 51.91804]})
    shown = privacy.pseudonymise(schools)
    assert set(shown["name"]) == {"School A", "School B"}
    assert (abs(shown["lon"] - schools["lon"]) <= privacy.PSEUDONYM_GRID / 2 + 1e-9).all()
    assert not (shown[["lon", "lat"]].to_numpy() == schools[["lon", "lat"]].to_numpy()).any()


def test_the_proxy_refuses_requests_from_another_origin(tmp_path):
    """deploy's nginx in front of a stand-in upstream: a request that carries another origin
    (another site, another port of the host) gets 403 from the proxy itself; its own passes."""
    import http.server
    import shutil
    import socket
    import subprocess
    import threading
    import urllib.error
    import urllib.request

    from deploy.run import NGINX, nginx_config
    if not shutil.which(NGINX) and not Path(NGINX).exists():
        pytest.skip("Debian nginx not installed")

    class Upstream(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"app")

        def log_message(self, *args):
            pass

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_config(f"127.0.0.1:{port}", [upstream.server_address[1]], tmp_path, tmp_path / "tmp"))
    proxy = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    try:
        def status(origin):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Origin": origin} if origin else {})
            for _ in range(100):  # until nginx listens
                try:
                    return urllib.request.urlopen(request, timeout=5).status
                except urllib.error.HTTPError as exc:
                    return exc.code
                except urllib.error.URLError:
                    threading.Event().wait(0.1)
            raise AssertionError("nginx did not start")

        assert status(None) == 200
        assert status(f"http://127.0.0.1:{port}") == 200
        assert status("http://127.0.0.1:9999") == 403
        assert status("https://elders.example") == 403
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        upstream.shutdown()


def test_guesses_sent_at_once_get_no_more_tries_than_guesses_sent_one_by_one(sqlite_engine):
    """Issue #23, second round: thirty parallel guesses all passed the lock check before any was
    counted. Each attempt now takes the account's row first and is counted before its check."""
    import threading
    from datetime import timedelta

    from gka_dash import db
    from gka_dash.access import users
    db.init_db(sqlite_engine)
    with sqlite_engine.begin() as conn:
        users.add_user(conn, "doelwit", role="gemeente", gemeenten=["GM0599"], password="een-lang-wachtwoord")
    allowed, start = [], threading.Barrier(30)

    def guess():
        start.wait()
        with sqlite_engine.begin() as conn:
            allowed.append(users.begin_attempt(conn, "doelwit", "203.0.113.5", max_failures=5,
                                               lockout=timedelta(minutes=15)))

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 5 and len(allowed) == 30
