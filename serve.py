"""The dashboard as it is served: ``streamlit run serve.py``.

``app.py`` is the Streamlit app (navigation and login gate); this wraps it as an ASGI app so
that the server itself refuses Streamlit's media files (downloads) to requests without a live
login session (``gka_dash.web``). Streamlit finds ``app`` below and serves it with uvicorn.
"""

import streamlit as st
from starlette.middleware import Middleware

from gka_dash.web import MediaNeedsSession

app = st.App("app.py", middleware=[Middleware(MediaNeedsSession)])
