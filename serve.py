"""The dashboard as it is served: ``streamlit run serve.py``.

``app.py`` is the Streamlit app (navigation and login gate); this wraps it as an ASGI app so
that the server itself sets the session cookie HttpOnly and refuses Streamlit's media files
(downloads) to requests without a live login session (``gka_dash.web``). Streamlit finds
``app`` below and serves it with uvicorn. (``streamlit run app.py`` works for development, but
without these: a session then lasts only as long as its browser tab.)
"""

import streamlit as st
from starlette.middleware import Middleware

from gka_dash.web import ROUTES, MediaNeedsSession

app = st.App("app.py", routes=ROUTES, middleware=[Middleware(MediaNeedsSession)])
