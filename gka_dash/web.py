"""The HTTP side of the server, installed by ``serve.py``. No Streamlit here.

- The session cookie is set and cleared by the server (``POST /_gka/sessie``,
  ``POST /_gka/uitloggen``), so it can be HttpOnly: script in the page, ours or injected, can
  neither read nor copy it. The page posts the token of a session the database has just opened;
  the route sets the cookie only for a live session, and only for a request from this site.
- Streamlit serves every file behind a download button at /media/<id>, to anyone who has the
  address. A file is made only on the click for a logged-in user (see ``ui.downloads``), but its
  address stays valid for a while; the guard answers 403 to a request for it without a live
  session cookie, so a copied or leaked address yields nothing.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from urllib.parse import urlsplit

import anyio
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from . import auth, config, db, sessions

SESSION_PATH, LOGOUT_PATH, HEALTH_PATH = "/_gka/sessie", "/_gka/uitloggen", "/_gka/gezond"


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


class MediaNeedsSession:
    """ASGI middleware: /media/… only for a request with a live login session."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and _is_media(scope.get("path", "")):
            token = _session_cookie(scope)
            if not await anyio.to_thread.run_sync(_live, token):
                await PlainTextResponse("Niet ingelogd.", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _remaining_seconds(token: str) -> int | None:
    with db.get_engine(config.database_url()).connect() as conn:
        left = sessions.remaining(conn, token)
    return int(left.total_seconds()) if left is not None else None


def _same_site(request) -> bool:
    """A cross-site page must not plant its own session in this browser (login CSRF)."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


async def open_session(request):
    token = (await request.body()).decode("utf-8", errors="replace").strip()[:200]
    seconds = await anyio.to_thread.run_sync(_remaining_seconds, token) if token else None
    if not seconds or not _same_site(request):
        return PlainTextResponse("Geen geldige sessie.", status_code=403)
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


ROUTES = [Route(SESSION_PATH, open_session, methods=["POST"]), Route(LOGOUT_PATH, close_session, methods=["POST"]),
          Route(HEALTH_PATH, health, methods=["GET"])]
