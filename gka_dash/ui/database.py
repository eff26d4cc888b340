"""The database engine of this process: one per URL, the demo built into an empty database.

Every UI module gets its engine here, so the first visitor of a fresh install sees the demo.
"""

from __future__ import annotations

import streamlit as st

from .. import config, db, demo


def engine():
    return _prepared_engine(config.database_url())


@st.cache_resource(show_spinner="Database voorbereiden…")
def _prepared_engine(url: str):
    """One engine per database URL per process; an empty database first gets the demo."""
    eng = db.get_engine(url)
    demo.ensure_demo(eng)
    return eng
