"""N dashboard processes on one database behind nginx, started, watched and stopped together.

One Streamlit process runs its sessions' Python under one lock; the GKA's meetings at the same
hour need several. Everything a process must share with the others lives in the database
(login sessions, data, the data version that every cache keys on) or in the environment that
this module hands to all of them alike (database URL, cookie key, Streamlit's cookie secret).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
HEALTH = "/_gka/gezond"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # Debian puts it in sbin, outside a user's PATH


def nginx_config(listen: str, ports: list[int], run_dir: Path, tmp_dir: Path) -> str:
    """The proxy's configuration; its origin check accepts GKA_PUBLIC_ORIGIN, else the origin a
    request is addressed to (scheme, host and port), as the app's own guard does."""
    upstreams = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in ports)
    origin = os.environ.get("GKA_PUBLIC_ORIGIN", "").strip().rstrip("/") or "$scheme://$http_host"
    return (TEMPLATE.read_text().replace("@RUN_DIR@", str(run_dir)).replace("@TMP_DIR@", str(tmp_dir))
            .replace("@LISTEN@", listen).replace("@UPSTREAMS@", upstreams).replace("@ORIGIN@", origin))


def _buffer_dir() -> Path:
    """Where nginx's workers park large request bodies (an upload). Started as root, nginx runs
    its workers as nobody, who cannot enter a private run folder: this one they can write."""
    path = Path(tempfile.mkdtemp(prefix="gka-nginx-"))
    path.chmod(0o755)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (path / sub).mkdir()
        (path / sub).chmod(0o777)
    return path


def shared_environment(environ: dict[str, str]) -> dict[str, str]:
    """The settings every process must hold alike.

    Streamlit signs its XSRF cookie with ``server.cookieSecret``, by default a random value per
    process: an upload after a failover to another process would then be refused. One secret for
    this run is made when none is given; processes on several machines need it set.
    """
    env = dict(environ)
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_urlsafe(32))
    env["STREAMLIT_SERVER_HEADLESS"] = "true"
    env["STREAMLIT_SERVER_FILE_WATCHER_TYPE"] = "none"  # no code changes to watch in production: 10 % of CPU
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    env["GKA_BEHIND_PROXY"] = "1"  # the app believes nginx's last X-Forwarded-For hop, and only then
    return env


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH, timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Deployment:
    """The processes of one deployment; ``with Deployment(...) as d:`` starts and stops them."""

    processes: int
    port: int
    run_dir: Path
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    address: str = "127.0.0.1"
    restart: bool = True
    app_ports: list[int] = field(default_factory=list)
    apps: dict[int, subprocess.Popen] = field(default_factory=dict)
    restarts: int = 0
    _nginx: subprocess.Popen | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def __enter__(self) -> "Deployment":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._buffers = _buffer_dir()
        self._env = shared_environment(self.environ)
        self.app_ports = self.app_ports or [_free_port() for _ in range(self.processes)]
        try:
            for port in self.app_ports:
                self.apps[port] = self._start_app(port)
            for port in self.app_ports:
                self._wait_healthy(port)
            config = self.run_dir / "nginx.conf"
            config.write_text(nginx_config(f"{self.address}:{self.port}", self.app_ports, self.run_dir,
                                           self._buffers))
            self._nginx = subprocess.Popen([NGINX, "-p", str(self.run_dir), "-c", str(config), "-g", "daemon off;"],
                                           stderr=open(self.run_dir / "nginx-start.log", "wb"))
            self._wait(lambda: healthy(self.url), f"nginx on {self.url}", self._nginx)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        if self.restart:
            threading.Thread(target=self._watch, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        for proc in [self._nginx, *self.apps.values()]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [self._nginx, *self.apps.values()]:
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=20)
                if proc.poll() is None:
                    proc.kill()
        shutil.rmtree(getattr(self, "_buffers", ""), ignore_errors=True)

    def _start_app(self, port: int) -> subprocess.Popen:
        log = open(self.run_dir / f"app-{port}.log", "ab")
        return subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1"], cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT)

    def _wait_healthy(self, port: int) -> None:
        self._wait(lambda: healthy(f"http://127.0.0.1:{port}"), f"app process on port {port}", self.apps[port])

    def _wait(self, check, what: str, proc: subprocess.Popen, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} stopped at start (exit code {proc.returncode}); see {self.run_dir}")
            if check():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not answer {HEALTH} within {timeout:.0f} s; see {self.run_dir}")

    def _watch(self) -> None:
        """Start again an app process that ended; nginx sends its browsers elsewhere meanwhile."""
        while not self._stopping.wait(1.0):
            for port, proc in list(self.apps.items()):
                if proc.poll() is not None and not self._stopping.is_set():
                    print(f"app process on port {port} ended (exit code {proc.returncode}); starting it again",
                          file=sys.stderr, flush=True)
                    self.apps[port] = self._start_app(port)
                    self.restarts += 1

    def wait(self) -> None:
        """Serve until nginx ends or the operator stops it (Ctrl-C, SIGTERM)."""
        self._nginx.wait()
