"""Filters bound to the URL, so a view can be shared as a link and the browser's back and
forward buttons step through filter changes; the share link; running a page."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlencode

import streamlit as st

from .. import charts, queries, registry, web
from ..access.users import User
from sqlalchemy.exc import SQLAlchemyError

from .chrome import PRESENTATION_CSS, PRESENTATION_PARAMS, controls, database_unreachable, plain, presenting
from .database import engine
from .login import store_login_cookie


def presentation_controls() -> tuple[str, ...]:
    """The presentation switch: in the sidebar normally. While presenting (there is no sidebar
    then) it sits with the pseudonym switch and every filter of the page behind one button,
    "Weergave", pinned in the top bar: the room sees the view, not the controls, and the
    presenter changes the view from there (:func:`chrome.controls`). Returns the URL parameters
    it set."""
    if not presenting():  # off leaves the URL alone: links stay free of presentatie=0
        st.sidebar.toggle("Presentatiemodus", key="filter_presentatie")
        return ()
    box = st.popover("Weergave", icon=":material/tune:", key="weergave")
    st.session_state["_controls"] = box
    box.button("Presentatiemodus uit", icon=":material/close_fullscreen:", on_click=_stop_presenting)
    url_flag("Schoolnamen als pseudoniem", "pseudoniemen", where=box, default=True)
    _remember("presentatie", True, "1")
    st.session_state["filter_presentatie"] = True  # the sidebar's switch, for when it is drawn again
    st.html(PRESENTATION_CSS)
    return PRESENTATION_PARAMS


def _stop_presenting() -> None:
    """Back to the normal page: before the run, so the run that follows draws the sidebar and
    its switch off, and the URL loses the presentation settings (a URL-bound toggle moving from
    the popover to the sidebar came back on at the next rerun)."""
    st.session_state["filter_presentatie"] = False
    for param in PRESENTATION_PARAMS:
        st.session_state.pop(f"_last_{param}", None)
        st.query_params.pop(param, None)


class Gemeente(NamedTuple):
    code: str
    name: str


def gemeente_select(user: User) -> Gemeente:
    """The gemeente filter, kept in the URL (?gemeente=GM…) so a view can be shared as a link.

    A link to a gemeente outside the user's scope shows a message and nothing of that gemeente;
    the page goes on with one the user may see.
    """
    options = queries.gemeenten(engine(), user.scope)
    if options.empty:
        st.info("Er zijn nog geen gegevens voor uw gemeente(n) geladen.")
        st.stop()
    requested = st.query_params.get("gemeente")
    if requested and not user.scope.allows(requested):
        st.session_state["_refused_gemeente"] = requested
        st.query_params.pop("gemeente")
    names = dict(zip(options["code"], options["name"]))
    code = url_choice("Gemeente", list(names), "gemeente", format_func=lambda c: f"{names[c]} ({c})",
                      where=controls() if presenting() else st.sidebar)
    _say_refused(code, names[code])
    return Gemeente(user.scope.check(code), names[code])


def _say_refused(shown: str, name: str) -> None:
    """A link to a gemeente outside the scope says so, and keeps saying so on the reruns that
    follow (the login cookie's, a widget's) until the user picks a gemeente: otherwise the
    message flashes once and the user's own gemeente seems to be what the link showed."""
    refused = st.session_state.get("_refused_gemeente")
    if refused is None:
        return
    fallback = st.session_state.setdefault("_refused_fallback", shown)
    if shown != fallback:
        del st.session_state["_refused_gemeente"], st.session_state["_refused_fallback"]
        return
    st.error(f"De gedeelde link gaat over gemeente {refused}; die valt buiten uw bevoegdheid, dus daarvan wordt "
             f"niets getoond. U ziet nu {name}.", icon=":material/block:")


def _resolve(param: str, parse, valid, default) -> str:
    """Set the starting value of a URL-bound widget for this run and return its key.

    A URL value we did not write ourselves (an opened link, browser back/forward) wins over the
    widget's state; otherwise the widget keeps its state; a value no longer valid falls back to
    the user's last choice of that filter on any page, then to the default.
    """
    widget = f"filter_{param}"
    raw = st.query_params.get(param)
    if raw is not None and raw != st.session_state.get(f"_last_{param}") and valid(parse(raw)):
        st.session_state[widget] = parse(raw)
    if not valid(st.session_state.get(widget)):
        previous = st.session_state.get(f"_value_{param}")
        st.session_state[widget] = previous if valid(previous) else default
    return widget


def run_page(page, *, keep_params: bool = False, app_params: tuple[str, ...] = ()) -> None:
    """Run a page and then drop URL parameters it did not use, so a shared link carries only
    the filters of the view it opens. Before login every parameter is kept, so the link still
    holds its filters once the user has logged in. ``app_params`` are the ones the app itself
    set before the page (presentation mode)."""
    st.session_state["_params_used"] = {"gemeente", *app_params}
    missing = st.query_params.get(web.NOT_FOUND_PARAM)
    if missing:  # shown once: the parameter is dropped after this run like every unused one
        st.warning(f"De pagina “{plain(missing[:80])}” bestaat niet. U ziet het Overzicht; kies een andere pagina "
                   "in het menu.", icon=":material/link_off:")
    try:
        # Before the page: a page that stops early (a refusal, no data yet) must still leave the
        # cookie behind, and nothing can be drawn after st.stop(). The first element is as
        # stable a place to mount as the last.
        store_login_cookie()
        page.run()
        _offer_share_link()
    except SQLAlchemyError:
        database_unreachable()
    finally:
        unused = [p for p in st.query_params if p not in st.session_state.get("_params_used", ())]
        for param in [] if keep_params else unused:
            st.query_params.pop(param)


def share_link() -> str | None:
    """The address of this view with every filter it uses, without presentation settings: the
    receiver logs in and sees the same view if the gemeente is in their scope."""
    base = st.context.url
    if not base:
        return None
    used = st.session_state.get("_params_used", set()) - set(PRESENTATION_PARAMS)
    params = {k: v for k, v in st.query_params.items() if k in used}
    return base + ("?" + urlencode(params) if params else "")


def _offer_share_link() -> None:
    slot, link = st.session_state.pop("_share_slot", None), share_link()
    if slot is None or link is None:
        return
    with slot.popover("Deel deze weergave", icon=":material/share:"):
        st.code(link, language=None, wrap_lines=True)
        st.caption("Kopieer de link met het icoon rechtsboven. Wie hem opent, ziet na het inloggen precies "
                   "deze weergave, als de gemeente binnen zijn of haar bevoegdheid valt.")


def _remember(param: str, value, text: str) -> None:
    st.session_state.setdefault("_params_used", set()).add(param)
    st.session_state[f"_value_{param}"] = value
    st.session_state[f"_last_{param}"] = text
    st.query_params[param] = text


def url_choice(label: str, options: list[str], param: str, *, format_func=str, default=None,
               where=None, radio: bool = False) -> str:
    """A selectbox (or a row of radio buttons) whose value lives in the URL query string, so the
    view can be shared as a link."""
    key = _resolve(param, lambda raw: raw, lambda v: v in options,
                   default if default in options else options[0])
    where = where or st
    chosen = (where.radio(label, options, key=key, format_func=format_func, horizontal=True) if radio
              else where.selectbox(label, options, key=key, format_func=format_func))
    _remember(param, chosen, chosen)
    return chosen


def wijk_select(wijken, where=None) -> str:
    """The chosen wijk ("" for none), kept in the URL and shared by Kaart and Afstroom; a click
    on a map sets it too (``map_view(..., select="wijk")``). ``wijken``: code and name columns."""
    names = dict(zip(wijken["code"], wijken["name"]))
    return url_choice("Wijk (of klik op de kaart)", ["", *sorted(names, key=names.get)], "wijk", where=where,
                      format_func=lambda c: f"{names[c]} ({c})" if c else "geen")


def url_choices(label: str, options: list[str], param: str, *, default: list[str] | None = None,
                where=None) -> list[str]:
    """A multiselect kept in the URL as a comma-separated list."""
    key = _resolve(param, lambda raw: [v for v in raw.split(",") if v],
                   lambda v: isinstance(v, list) and all(x in options for x in v),
                   list(options if default is None else default))
    chosen = (where or st).multiselect(label, options, key=key)
    _remember(param, chosen, ",".join(chosen))
    return chosen


def url_flag(label: str, param: str, *, where=None, default: bool = False) -> bool:
    key = _resolve(param, {"0": False, "1": True}.get, lambda v: isinstance(v, bool), default)
    on = (where or st).toggle(label, key=key)
    _remember(param, on, "1" if on else "0")
    return on


def indicator_select(label: str, keys: list[str], param: str = "indicator", *, default=None,
                     where=None, radio: bool = False) -> registry.Indicator:
    key = url_choice(label, keys, param, format_func=lambda k: registry.get(k).label, default=default,
                     where=where, radio=radio)
    return registry.get(key)


def school_select(user: User, schools, ids) -> str | None:
    """The highlighted school, kept in the URL (?school=BRIN+vestiging).

    A link to a school of a gemeente outside the user's scope gets a message that names only the
    code from the link itself, never the school's name or figures.
    """
    requested = st.query_params.get("school")
    if requested and requested not in set(ids):
        owner = queries.school_gemeente(engine(), requested)
        if owner is not None and not user.scope.allows(owner):
            st.error(f"School {requested} valt buiten uw bevoegdheid; er wordt niets van getoond.")
        else:
            st.warning(f"School {requested} staat niet in deze weergave.")
        st.query_params.pop("school")
    names = dict(zip(schools["id"], charts.school_labels(schools)))
    chosen = url_choice("Zoek en markeer een school (typ een deel van de naam)", ["", *ids], "school",
                        format_func=lambda i: names.get(i, i) if i else "(geen)")
    return chosen or None
