"""The HTTP side of the server: a guard in front of Streamlit's media files.

Streamlit serves every file behind a download button (and every image) at /media/<id>, to
anyone who has the address, logged in or not. A file is made only on the click for a logged-in
user (see ``ui.downloads``), but its address then stays valid for a while; this guard answers
403 to a request for it without a live session cookie, so a copied or leaked address yields
nothing. No Streamlit here: plain ASGI middleware, installed by ``serve.py``.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import anyio
from starlette.responses import PlainTextResponse

from . import auth, config, db, sessions

MEDIA = "/media/"


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
        if scope["type"] == "http" and MEDIA in scope.get("path", ""):
            token = _session_cookie(scope)
            if not await anyio.to_thread.run_sync(_live, token):
                await PlainTextResponse("Niet ingelogd.", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
