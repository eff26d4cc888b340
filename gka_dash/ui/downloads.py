"""Tables, charts and the files behind their download buttons: made on the click, for the
logged-in user, audited."""

from __future__ import annotations

import streamlit as st

from .. import audit, charts, db, tables, web
from ..access import sessions, users
from ..access.users import User
from .chrome import presenting
from .database import engine


def _audit_export(eng, user: User, what: str) -> None:
    with eng.begin() as conn:
        audit.log(conn, user.username, "export", what)


def plain_table(frame) -> None:
    """A table on screen only, numbers written the Dutch way (see :func:`tables.for_display`)."""
    st.dataframe(tables.for_display(frame), hide_index=True, width="stretch")


MARKED = "background-color: #fff1a8; font-weight: 600"  # the chosen row; the text stays #31333F (12:1)


def table(user: User, frame, stem: str, *, mark: tuple[str, str] | None = None) -> None:
    """Render a table the Dutch way and offer exactly that table as CSV, made on the click;
    ``mark`` (column, value) marks the row of a chosen wijk or school.

    While presenting, the table folds away and offers no download.
    """
    where = st.expander("Tabel") if presenting() else st.container()
    shown = tables.for_display(frame)
    if mark is not None and (shown[mark[0]] == mark[1]).any():
        column, value = mark
        shown = shown.style.apply(lambda row: [MARKED if row[column] == value else ""] * len(row), axis=1)
    where.dataframe(shown, hide_index=True, width="stretch")
    if presenting():
        return
    synthetic = db.is_demo(engine())
    download(user, "Download tabel (CSV)", lambda: tables.to_csv(frame, synthetic=synthetic),
             f"{stem}{'-synthetisch-demo' if synthetic else ''}.csv", "text/csv",
             icon=":material/download:", key=f"csv_{stem}")


def chart(user: User, chart, stem: str, caption: charts.Caption) -> None:
    """Render an altair chart with PNG and SVG downloads, rendered on the server only when asked,
    each the same chart with its ``caption`` (title, place, periods, source) on the image; while
    presenting, with type readable on a projector and no downloads."""
    if presenting():
        st.altair_chart(charts.for_projector(chart), width="stretch")
        return
    st.altair_chart(chart, width="stretch")
    synthetic = db.is_demo(engine())
    suffix = "-synthetisch-demo" if synthetic else ""
    columns = st.columns([1, 1, 4])
    for column, fmt in zip(columns, ("png", "svg")):
        download(user, f"Grafiek als {fmt.upper()}",
                 lambda fmt=fmt: charts.image(charts.for_file(chart, caption, synthetic=synthetic), fmt),
                 f"{stem}{suffix}.{fmt}", "image/png" if fmt == "png" else "image/svg+xml",
                 icon=":material/image:", key=f"{fmt}_{stem}", where=column)


def download(user: User, label: str, render, file_name: str, mime: str, *, icon: str, key: str, where=None) -> None:
    """A download button whose file is made on the server only when clicked, and only while the
    login session that drew the button still stands and the account still may see what the
    page showed: a button on a tab opened before a logout, a lock or a narrowed scope yields
    nothing (issue #23). The click is audited, and the file it makes is delivered only to that
    login session (``web.media_owner``), never to another user's.

    Nothing of the file is sent with the page: Streamlit keeps the callable and runs it when the
    button is pressed.
    """
    eng = engine()
    token = st.session_state.get("_session_token")

    def make():
        with eng.connect() as conn:
            still = users.get_user(conn, user.username)
            live = sessions.username(conn, token) == user.username
        if (still is None or still.locked() or not live or still.role != user.role
                or not still.scope.covers(user.scope)):
            raise PermissionError("this download's login or scope no longer stands")
        _audit_export(eng, user, file_name)
        data = render()
        web.claim_next_file(token)
        return data

    (where or st).download_button(label, make, file_name=file_name, mime=mime, icon=icon, key=key)
