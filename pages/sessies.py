"""Sessies: where this account is logged in, and ending any of those sessions; a beheerder sees
and ends everyone's (BIO2 5.17, OWASP ASVS V3.3: a person can end a session they do not trust)."""

import streamlit as st

from gka_dash import config, formatting, ui
from gka_dash.access import sessions

user = ui.require_user()
ui.page_header("Sessies", "Waar u bent ingelogd. Beëindig een sessie die u niet herkent; die is bij de volgende "
                          "klik overal afgemeld.")
engine = ui.engine()
everyone = user.role == "beheerder"
st.caption(f"Een sessie eindigt na {formatting.number(config.idle_minutes(), 0)} minuten zonder klik, en uiterlijk "
           f"{formatting.number(config.session_hours(), 0)} uur na het inloggen.")
with engine.connect() as conn:
    found = sessions.active(conn, username=None if everyone else user.username, current=ui.session_token())
if not found:
    ui.empty("Geen actieve sessies.")
for session in found:
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.markdown(ui.plain(
        f"{session.username + ' — ' if everyone else ''}ingelogd {formatting.moment(session.started)}"
        f"{' vanaf ' + session.origin if session.origin not in (None, '', '-') else ''}; laatste klik {formatting.moment(session.last_seen)}; "
        f"eindigt uiterlijk {formatting.moment(session.ends)}{' (deze sessie)' if session.current else ''}"))
    if right.button("Beëindig", key=f"end_{session.id}"):
        with engine.begin() as conn:
            ended = sessions.end(conn, session.id, by=user.username, everyone=everyone)
        if session.current:
            ui.logout()
        st.success(f"Sessie van {ended} beëindigd." if ended else "Die sessie was al beëindigd.")
        st.rerun()
