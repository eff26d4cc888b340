"""The HTTP side of the server, installed by ``serve.py`` (no pages here; of Streamlit only the
media storage, see ``media_owner``).

- The session cookie is set and cleared by the server (``POST /_gka/sessie``,
  ``POST /_gka/uitloggen``), so it can be HttpOnly: script in the page, ours or injected, can
  neither read nor copy it. The page posts a one-time ticket for a session the database has just opened;
  the route sets the cookie only for a live session, and only for a request from this site.
  The page holds a one-time ticket for it, never the token.
- Streamlit serves every file behind a download button at /media/<id>, to anyone who has the
  address. A file is made only on the click for a logged-in user (see ``ui.downloads``), but its
  address stays valid for a while; the guard answers 403 to a request for it without a live
  session cookie, so a copied or leaked address yields nothing.
"""

from __future__ import annotations

import functools
import html
import re
import threading
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlsplit

import anyio
import requests
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from .access import auth, sessions, users
from . import config, db
from .access import oidc

SESSION_PATH, LOGOUT_PATH, HEALTH_PATH = "/_gka/sessie", "/_gka/uitloggen", "/_gka/gezond"
OIDC_PREFIX = "/_gka/oidc"
OIDC_START, OIDC_CALLBACK = OIDC_PREFIX + "/start", OIDC_PREFIX + "/terug"
OIDC_COOKIE = "gka_oidc_binding"
OIDC_PARAM = "organisatie_inlog"  # the login page's reason after a refused organisation login


def _is_media(path: str) -> bool:
    """A file behind a download button: /media/… (after a base path, if any). Not the app's own
    fonts and scripts under /static/media/…, which the login page needs before anyone logs in."""
    segments = path.split("/")[1:3]
    return "media" in segments and "static" not in segments


def _session_cookie(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed header carries no session
                return None
            if auth.COOKIE_NAME in jar:
                return jar[auth.COOKIE_NAME].value
    return None


def _live(token: str | None) -> bool:
    if not token:
        return False
    with db.get_engine(config.database_url()).connect() as conn:
        return sessions.username(conn, token) is not None


# Which login session made which download. Streamlit stores a file made by a download button
# under an id and serves it at /media/<id> to whoever asks; a live cookie of *another* user was
# enough to fetch it. The download's callable (``ui.downloads``) claims the file it is about to
# return, in the thread that then stores it; the storage records the id with the claim.
_claims = threading.local()
_owners: dict[str, str] = {}  # file id → SHA-256 of the login token that made it
_OWNERS_KEPT = 10_000


def claim_next_file(token: str | None) -> None:
    """The next file this thread stores belongs to the session of ``token``."""
    _claims.owner = sessions.token_hash(token) if token else "-"


def _owned_storage(load_and_get_id):
    @functools.wraps(load_and_get_id)
    def recording(self, *args, **kwargs):
        file_id = load_and_get_id(self, *args, **kwargs)
        owner = getattr(_claims, "owner", None)
        if owner is not None:
            _claims.owner = None
            if len(_owners) >= _OWNERS_KEPT:
                _owners.pop(next(iter(_owners)))
            _owners[file_id] = owner
        return file_id
    return recording


MemoryMediaFileStorage.load_and_get_id = _owned_storage(MemoryMediaFileStorage.load_and_get_id)


def media_owner(path: str) -> str | None:
    """The token hash of the session that made the file at this /media/… path, if recorded."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return _owners.get(name.split(".", 1)[0])


class MediaNeedsSession:
    """ASGI middleware: /media/… only for a request with a live login session, and a file that a
    download made only for the session that made it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and _is_media(scope.get("path", "")):
            token = _session_cookie(scope)
            owner = media_owner(scope.get("path", ""))
            mine = owner is None or (token is not None and sessions.token_hash(token) == owner)
            if not mine or not await anyio.to_thread.run_sync(_live, token):
                await PlainTextResponse("Niet ingelogd.", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _beheerder(token: str | None) -> bool:
    """Whether this token opens a live session of a beheerder (Streamlit's metrics are theirs)."""
    if not token:
        return False
    with db.get_engine(config.database_url()).connect() as conn:
        name = sessions.username(conn, token)
        found = users.get_user(conn, name) if name else None
    return found is not None and found.role == "beheerder" and not found.locked()


def _redeem(ticket: str) -> tuple[str, int] | None:
    """The session token and its remaining seconds for a one-time ticket, or None."""
    engine = db.get_engine(config.database_url())
    with engine.begin() as conn:
        token = sessions.redeem(conn, ticket, auth.cookie_key(engine))
        left = sessions.remaining(conn, token) if token else None
    return (token, int(left.total_seconds())) if left is not None else None


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(origin: str | None, host: str | None, scheme: str) -> bool:
    """Whether a request that carries ``Origin`` comes from the app's own pages: the configured
    public origin exactly, else scheme, host *and port* of the address the request was sent to.
    Streamlit's own check compares host names only, so a page on another port of the same host
    could open the WebSocket with the victim's cookie (issue #23). No Origin: not a browser's
    cross-site request (browsers send it on every WebSocket and every POST)."""
    if origin is None:
        return True
    wanted = config.public_origin()
    if wanted is not None:
        return origin.rstrip("/") == wanted
    parts = urlsplit(origin)
    return bool(host) and parts.netloc == host and parts.scheme == scheme


def _scheme(scope) -> str:
    forwarded = _header(scope, b"x-forwarded-proto")
    secure = scope.get("scheme") in ("https", "wss") or (forwarded or "").split(",")[0].strip() == "https"
    return "https" if secure else "http"


def _same_site(request) -> bool:
    """A cross-site page must not plant its own session in this browser (login CSRF)."""
    return origin_allowed(request.headers.get("origin"), request.headers.get("host"), _scheme(request.scope))


SECURITY_HEADERS = [(b"content-security-policy", b"frame-ancestors 'none'"), (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
METRICS_PREFIX = "/_stcore/metrics"


# The app's page paths are its page files (app.py's st.navigation names each by its file), the
# first of which, Overzicht, Streamlit serves at "/" only: "/overzicht", the path a person
# would guess or type from the menu, opened the main page behind an English "Page not found".
PAGE_PATHS = frozenset(p.stem for p in (Path(__file__).resolve().parent.parent / "pages").glob("*.py"))
HOME = "overzicht"
NOT_FOUND_PARAM = "niet_gevonden"
ONE_SEGMENT = re.compile(r"^/([^/.]+)/?$")  # a page's path; assets, _stcore and media have dots or slashes


def page_redirect(path: str, query: str) -> str | None:
    """Where a request for a page path that Streamlit would not know should go: Overzicht's own
    name to the root with its filters kept, an unknown one-segment path to Overzicht with the
    name it asked for, which the app then says in Dutch (``NOT_FOUND_PARAM``)."""
    found = ONE_SEGMENT.match(path)
    if found is None or found.group(1).startswith("_"):
        return None
    name = found.group(1)
    if name == HOME:
        return "/" + (f"?{query}" if query else "")
    if name in PAGE_PATHS:
        return None
    return f"/?{NOT_FOUND_PARAM}={quote(name[:80])}"


class Guard:
    """ASGI middleware in front of everything Streamlit serves:

    - a WebSocket or a state-changing request from a page of another origin is refused;
    - Streamlit's ``/_stcore/metrics`` answers only a request with a live login session;
    - no page of the app may be framed by another site (clickjacking), and every answer says so;
    - ``/overzicht`` and paths of pages that do not exist are sent on (:func:`page_redirect`).
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        origin, host = _header(scope, b"origin"), _header(scope, b"host")
        changes = kind == "websocket" or scope.get("method", "GET") not in ("GET", "HEAD", "OPTIONS")
        if changes and not origin_allowed(origin, host, _scheme(scope)):
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await PlainTextResponse("Andere herkomst geweigerd.", status_code=403)(scope, receive, send)
            return
        if kind == "http" and scope.get("method") in ("GET", "HEAD"):
            target = page_redirect(scope.get("path", ""), scope.get("query_string", b"").decode("latin-1"))
            if target is not None:
                await RedirectResponse(target, status_code=307)(scope, receive, send)
                return
        if kind == "http" and scope.get("path", "").endswith(METRICS_PREFIX):
            if not await anyio.to_thread.run_sync(_beheerder, _session_cookie(scope)):
                await PlainTextResponse("Niet ingelogd.", status_code=403)(scope, receive, send)
                return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *[(n, v) for n, v in SECURITY_HEADERS if n not in names]]}
            await send(message)

        await self.app(scope, receive, with_headers if kind == "http" else send)


async def open_session(request):
    """Set the login cookie for the one-time ticket the page posts (see ``sessions.ticket``)."""
    body = b""
    async for chunk in request.stream():  # a ticket is 43 characters: read no more than a little
        body += chunk
        if len(body) > 512:
            return PlainTextResponse("Geen geldige sessie.", status_code=403)
    ticket = body.decode("utf-8", errors="replace").strip()
    if not _same_site(request):
        return PlainTextResponse("Geen geldige sessie.", status_code=403)
    found = await anyio.to_thread.run_sync(_redeem, ticket) if ticket else None
    if not found or found[1] <= 0:
        return PlainTextResponse("Geen geldige sessie.", status_code=403)
    token, seconds = found
    response = Response(status_code=204)
    response.set_cookie(auth.COOKIE_NAME, token, max_age=seconds, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


async def close_session(request):
    """Clear a cookie whose session is over. A live one stays: a clear that arrives late, after
    the next login in this browser has set its cookie, must not log that login out."""
    response = Response(status_code=204)
    if await anyio.to_thread.run_sync(_live, request.cookies.get(auth.COOKIE_NAME)):
        return response
    response.delete_cookie(auth.COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


def _database_answers() -> bool:
    try:
        with db.get_engine(config.database_url()).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False


async def health(request):
    """For a load balancer or monitoring: 200 when this process serves and reaches the database,
    503 when it runs but cannot serve anyone (Streamlit's own /_stcore/health says only that
    the process runs). The answer names no host, port or error."""
    if await anyio.to_thread.run_sync(_database_answers):
        return PlainTextResponse("ok")
    return PlainTextResponse("database onbereikbaar", status_code=503)


def client_address(peer, forwarded) -> str:
    """Where a request comes from: the client address, or the last ``X-Forwarded-For`` hop (the
    one our nginx appended) when the process runs behind our proxy (``GKA_BEHIND_PROXY``) and the
    request comes from this machine; elsewhere that header is anyone's to write."""
    peer = peer if isinstance(peer, str) and peer else "-"
    if isinstance(forwarded, str) and forwarded and peer in ("127.0.0.1", "::1") and config.behind_proxy():
        return forwarded.split(",")[-1].strip()[:64] or peer
    return peer[:64]


def _request_origin(request) -> str:
    return client_address(request.client.host if request.client else None, request.headers.get("x-forwarded-for"))


def _base(request) -> str:
    return config.public_origin() or f"{_scheme(request.scope)}://{request.headers.get('host', '')}"


def _go(path: str) -> Response:
    """A page that sends the browser on within this site. After the provider's redirect a plain
    302 would carry the browser on in the provider's cross-site navigation, in which the new
    SameSite=Strict login cookie is not sent; a navigation this site's own page starts is
    same-site."""
    target = html.escape(path, quote=True)
    return Response(f'<!doctype html><html lang="nl"><meta charset="utf-8"><meta http-equiv="refresh" '
                    f'content="0;url={target}"><title>Inloggen</title><p><a href="{target}">Verder naar het '
                    f'dashboard</a></p></html>', media_type="text/html",
                    headers={"cache-control": "no-store", "referrer-policy": "no-referrer"})


def _oidc_begin(key: str, redirect_uri: str, return_to: str, client: str) -> tuple[str, str] | None:
    provider = oidc.providers().get(key)
    if provider is None:
        return None
    with db.get_engine(config.database_url()).begin() as conn:
        return oidc.begin(conn, provider, redirect_uri, return_to, client)


async def oidc_start(request):
    """Send the browser to its organisation's identity provider, with a cookie that binds the
    pending login to this browser (a link someone else started cannot be finished here)."""
    try:
        found = await anyio.to_thread.run_sync(_oidc_begin, request.query_params.get("aanbieder", ""),
                                               _base(request) + OIDC_CALLBACK, request.query_params.get("terug", "/"),
                                               _request_origin(request))
    except oidc.Refused as refused:
        return _go(f"/?{OIDC_PARAM}={refused.code}")
    except (requests.RequestException, ValueError):
        return _go(f"/?{OIDC_PARAM}=afgebroken")
    if found is None:
        return _go(f"/?{OIDC_PARAM}=afgebroken")
    address, binding = found
    response = RedirectResponse(address, status_code=302)
    response.set_cookie(OIDC_COOKIE, binding, max_age=int(oidc.PENDING.total_seconds()), path=OIDC_PREFIX,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")
    response.headers["cache-control"] = "no-store"
    return response


def _oidc_finish(params: dict, binding: str | None, origin: str):
    try:
        return oidc.finish(db.get_engine(config.database_url()), params, binding, origin)
    except oidc.Refused as refused:
        return refused


async def oidc_callback(request):
    """The provider's answer: a session and its cookie, or the login page with the reason."""
    origin = _request_origin(request)
    params = {k: request.query_params.get(k) for k in ("code", "state", "error")}
    found = await anyio.to_thread.run_sync(_oidc_finish, params, request.cookies.get(OIDC_COOKIE), origin)
    if isinstance(found, oidc.Refused):
        response = _go(f"/?{OIDC_PARAM}={found.code}")
    else:
        response = _go(found.return_to)
        response.set_cookie(auth.COOKIE_NAME, found.token, max_age=int(timedelta(hours=config.session_hours()).total_seconds()),
                            path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
    response.delete_cookie(OIDC_COOKIE, path=OIDC_PREFIX, httponly=True, samesite="lax")
    return response


ROUTES = [Route(SESSION_PATH, open_session, methods=["POST"]), Route(LOGOUT_PATH, close_session, methods=["POST"]),
          Route(HEALTH_PATH, health, methods=["GET"]), Route(OIDC_START, oidc_start, methods=["GET"]),
          Route(OIDC_CALLBACK, oidc_callback, methods=["GET"])]
