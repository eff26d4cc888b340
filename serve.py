"""The dashboard as it is served: ``streamlit run serve.py``.

``app.py`` is the Streamlit app (navigation and login gate); this wraps it as an ASGI app so
that the server itself sets the session cookie HttpOnly, refuses Streamlit's media files
(downloads) to requests without the login session that made them, refuses WebSockets and posts
from pages of another origin, keeps /_stcore/metrics behind the login and forbids framing
(``gka_dash.web``). Streamlit finds
``app`` below and serves it with uvicorn. (``streamlit run app.py`` works for development, but
without these: a session then lasts only as long as its browser tab.)
"""

import streamlit as st
from starlette.middleware import Middleware
from streamlit.runtime.pages_manager import PagesManager

from gka_dash.web import ROUTES, Guard, MediaNeedsSession

# app.py's st.navigation is the app's only navigation. Streamlit decides once per process, at
# its first session, whether the app is a "pages directory" app (a folder pages/ beside the
# main script, which we have for the page files) and until st.navigation has run once it runs
# a page URL's file on its own, with a sidebar listing the files. Decided here, before any
# session, a fresh server serves its first visitor as a warm one does.
PagesManager.uses_pages_directory = False

app = st.App("app.py", routes=ROUTES, middleware=[Middleware(Guard), Middleware(MediaNeedsSession)])
