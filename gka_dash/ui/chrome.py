"""Page chrome: the header with the synthetic-data notice, presentation mode, the texts that
explain a figure (about, withheld, empty states), the map with its legend and key figures."""

from __future__ import annotations

import html
import re

import streamlit as st

from .. import config, db, formatting, privacy, registry
from .database import engine

SYNTHETIC_NOTE = ("**Synthetisch (demo)** — alle gemeenten, wijken, scholen en cijfers in deze "
                  "database zijn verzonnen en dienen alleen om het dashboard te laten zien.")


SYNTHETIC_BADGE = "Synthetisch (demo): verzonnen gemeenten, wijken, scholen en cijfers"


def controls():
    """Where a page draws its filters: in the page normally; while presenting, behind the
    "Weergave" button (:func:`filters.presentation_controls`)."""
    box = st.session_state.get("_controls") if presenting() else None
    return box if box is not None else st.container()


def explain(text: str) -> None:
    """A sentence that explains how to read a view: under it normally; while presenting the
    presenter says it, and the view moves up the screen."""
    if not presenting():
        st.caption(text)


def part_select(parts: int, rows: int, noun: str) -> int:
    """Which part of a long list a presenter shows (the parts of ``charts.dumbbell_pages``):
    one row of buttons "1–15 · 16–30 · 31–44", the first shown to begin with."""
    if parts <= 1:
        return 0
    size = -(-rows // parts)
    labels = {i: f"{i * size + 1}–{min(rows, (i + 1) * size)}" for i in range(parts)}
    chosen = st.segmented_control(f"{noun.capitalize()} (van de {rows})", list(labels), format_func=labels.get,
                                  default=0, required=True, key=f"part_{noun}")
    return chosen if chosen in labels else 0


def page_header(title: str, subtitle: str = "") -> None:
    """The page's title and purpose; its corner keeps a place for "Deel deze weergave", which
    ``run_page`` fills once the page has set every filter in the URL."""
    st.set_page_config(page_title=f"{title} · GKA Dashboard")  # a tab title per page
    if presenting():  # the view first: no subtitle, the synthetic notice in one line
        st.title(title, anchor=False)  # no chain icon, no English "link to heading"
        st.session_state["_share_slot"] = None
        if db.is_demo(engine()):
            st.markdown(f'<p class="gka-synthetic">{html.escape(SYNTHETIC_BADGE)}</p>', unsafe_allow_html=True)
    else:
        head, corner = st.columns([4, 1], vertical_alignment="bottom")
        head.title(title, anchor=False)
        st.session_state["_share_slot"] = corner.empty()
        if subtitle:
            st.caption(subtitle)
        if db.is_demo(engine()):
            st.info(SYNTHETIC_NOTE, icon=":material/science:")
    st.html(FOCUS_CSS)
    # After login and after a page change, not on a filter click. The script is in the page on
    # every run (a no-op when there is nothing to do): an element that came and went would shift
    # every element under it, and Streamlit would redraw them, resetting a page's open tab. It
    # runs in the page itself (st.html with JavaScript), not in a frame of its own: no
    # deprecated st.components.v1.html, no extra document to load before the focus moves.
    move = st.session_state.get("_focused_title") != title
    st.session_state["_focused_title"] = title
    st.html(FOCUS_SCRIPT.replace("__MOVE__", "true" if move else "false"), unsafe_allow_javascript=True)


# The page's language for screen readers (WCAG 3.1.1), set on every page change.
# Keyboard users (WCAG 2.4.3, 2.4.7): after login or a page change focus goes to the page's title,
# the start of what changed, instead of the page body (from where the menu was 14 Tabs away);
# and every control shows a clear focus ring (#005A8C: 7,3:1 on white).
FOCUS_SCRIPT = """<script>
(() => {
  // One history entry per thing the user did (issue #24). Streamlit pushes an entry for every
  // query-parameter write, and a run writes one per filter: a page visit left six entries, and
  // Back walked through them, re-running the same page, so it seemed to stay where it was. A
  // push to the same path now adds an entry only for the first write after a click or a key
  // (Back undoes a filter change); the other writes of that run replace it.
  if (!window.__gkaHistory) {
    window.__gkaHistory = true;
    const push = history.pushState.bind(history);
    let acted = true;
    for (const kind of ["pointerdown", "keydown"]) addEventListener(kind, () => { acted = true; }, true);
    let pushedHere = 0;  // when a click last pushed an entry on this same path
    history.pushState = (state, title, url) => {
      const same = new URL(url, location.href).pathname === location.pathname;
      // A click on a menu link first writes the old page's parameters: that entry, a moment
      // old, is taken over by the page the click opens.
      if (!same && Date.now() - pushedHere < 1000) {
        pushedHere = 0;
        acted = false;
        return history.replaceState(state, title, url);
      }
      if (same && !acted) return history.replaceState(state, title, url);
      acted = false;
      pushedHere = same ? Date.now() : 0;
      return push(state, title, url);
    };
  }
})();
(() => {  // a scope of its own: the page runs this again on every page change
  document.documentElement.lang = "nl";  // WCAG 3.1.1; Streamlit's page says "en" (streamlit/streamlit#15726)
  let tries = __MOVE__ ? 50 : 0;
  if (__MOVE__) (function focusTitle() {
    const title = document.querySelector('[data-testid="stMain"] h1');
    if (title) { title.setAttribute("tabindex", "-1"); title.focus(); }
    else if (tries-- > 0) setTimeout(focusTitle, 100);
  })();
})();
</script>"""
FOCUS_CSS = """<style>
.stApp :focus-visible { outline: 3px solid #005A8C !important; outline-offset: 2px !important; }
[data-testid="stMain"] h1:focus { outline: none !important; }
</style>"""


PRESENTATION_PARAMS = ("presentatie", "pseudoniemen")
PRESENTATION_CSS = """<style>
html { font-size: 21px; }
.st-key-weergave { position: fixed; top: 0.55rem; right: 4.2rem; z-index: 999991; width: auto !important; }
[data-testid="stMain"] h1 { font-size: 2.1rem; padding: 0 0 0.4rem; }
[data-testid="stMain"] h2 { font-size: 1.5rem; padding: 0.3rem 0 0.3rem; }
[data-testid="stMain"] h3 { font-size: 1.25rem; padding: 0.2rem 0 0.2rem; }
.gka-synthetic { display: inline-block; background: #fff4cc; border: 2px solid #8a4b00; color: #000000 !important;
                 font-weight: 600; padding: 0.1rem 0.6rem; margin: 0 0 0.3rem; font-size: 0.85rem; }
.stApp, [data-testid="stHeader"] { background: #ffffff; }
.stApp p, .stApp li, .stApp label, .stApp h1, .stApp h2, .stApp h3 { color: #000000; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { color: #111111 !important; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 3.6rem 3rem 3rem !important; }
[data-testid="stAlert"] { border: 2px solid #000000; }
</style>"""


def presenting() -> bool:
    """Presentation mode (``?presentatie=1``): for a screen shared in a meeting. A URL value we
    did not write ourselves (an opened link, back/forward) wins, as for every filter."""
    raw = st.query_params.get("presentatie")
    if raw in ("0", "1") and raw != st.session_state.get("_last_presentatie"):
        return raw == "1"
    return bool(st.session_state.get("filter_presentatie", False))


def pseudonyms() -> bool:
    """School names replaced by School A, B, …: only while presenting, and on unless switched off."""
    if not presenting():
        return False
    state = st.session_state.get("filter_pseudoniemen")
    return bool(state) if state is not None else st.query_params.get("pseudoniemen") != "0"


def about(ind: registry.Indicator, periods: list[str]) -> None:
    """'Over deze indicator': what a figure means, from the registry, one click away."""
    with st.expander(f"Over deze indicator: {ind.label}"):
        unit = registry.UNITS[ind.unit][2] or {"advies": "adviesschaal 1-6"}.get(ind.unit, "getal")
        st.markdown(f"{ind.description}\n\n"
                    f"- **Bron:** {ind.source}\n"
                    f"- **Perioden:** {', '.join(periods) if periods else 'geen'}\n"
                    f"- **Eenheid:** {unit}\n"
                    + (f"- **Let op:** {ind.caveat}\n" if ind.caveat else "")
                    + (f"- **Privacy:** waarden op minder dan {config.suppression_threshold()} "
                       "leerlingen worden niet getoond, gekleurd of geëxporteerd.\n" if not ind.level == "area" else ""))


def withheld_note(count: int, noun: str = "leerlingen") -> None:
    if count:
        st.caption(privacy.withheld_text(count, noun))


def empty(message: str = "Geen gegevens voor deze keuze.") -> None:
    st.info(message, icon=":material/info:")


def statement(text: str, where=None, *, size: str = "1.3rem") -> None:
    """A sentence or number set large without making it a heading: a heading is for finding
    one's way (screen readers list them), and "+2,5 procentpunt" is not a section."""
    (where or st).markdown(f'<p style="font-size:{size};font-weight:600;line-height:1.3;margin:0 0 0.5rem">'
                           f'{html.escape(text)}</p>', unsafe_allow_html=True)


def map_view(view, *, select: str | None = None) -> None:
    """The map with its legend underneath: pydeck draws none, so this one uses the map's colours.

    ``select`` names a URL-bound choice of wijk (``url_choice(..., select)``): a click on a wijk
    sets it, before the next run draws that list, so the click, the list, the URL, the outline
    on the map and the marked table row all agree."""
    text = f"Kaart: {view.title}. De waarde van elke wijk staat in de tabel onder de kaart."
    if select is None:
        st.pydeck_chart(view.deck, height=view.height, alt=text)
    else:
        key = f"map_{select}"

        def clicked():
            objects = st.session_state[key].selection.get("objects", {}).get("wijken", [])
            if objects:
                st.session_state[f"filter_{select}"] = objects[0]["code"]

        st.pydeck_chart(view.deck, height=view.height, alt=text, key=key, on_select=clicked,
                        selection_mode="single-object")
    entries, title = view.legend, view.title
    items = "".join(
        f'<span role="listitem" style="display:inline-flex;align-items:center;margin:0 14px 4px 0">'
        f'<span aria-hidden="true" style="width:18px;height:14px;background:{e.colour};border:1px solid #595959;'
        f'margin-right:6px;display:inline-block"></span>{html.escape(e.label)}</span>'
        for e in entries)
    st.html(f'<div role="list" aria-label="Legenda" style="font-size:0.95rem">'
            f'<strong>{html.escape(title)}</strong><br>{items}</div>')


# Every ASCII punctuation character, each of which CommonMark lets a backslash make literal: so
# no link, autolink (https://…, www.…), image, emphasis, heading, list (- + 1.), quote, table or
# Streamlit extension (:red[…], :material/…:, $…$) can come from a name or a note.
MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def plain(text: str) -> str:
    """Text from a file or a person (a school or wijk name, a note) made inert inside Markdown,
    its line breaks kept. HTML is escaped by Streamlit."""
    return "  \n".join(MARKDOWN_SPECIAL.sub(r"\\\1", line) for line in str(text).splitlines() or [""])


def empty_state(user, what: str, ind: registry.Indicator | None) -> None:
    """An empty view explained to the person who sees it: what is missing, where it comes from,
    whom to ask; a beheerder also reads how to load it."""
    lines = [what]
    if ind is not None:
        lines.append(f"**{ind.label}:** {ind.description}")
        lines.append(f"**Bron:** {ind.source}." + (" Dit is een maatwerktabel die CBS of DUO alleen aan de "
                                                   "gemeente levert; hij is niet openbaar." if ind.restricted else ""))
    if user.role == "beheerder":
        lines.append("**Inlezen (beheerder):** via Beheer → Gegevens inlezen, of "
                     "`python -m gka_dash import-indicators BESTAND.csv` (maatwerk) en "
                     "`python -m gka_dash import-folder MAP` (open data).")
    else:
        lines.append("Wilt u deze cijfers zien? Vraag de beheerder van het dashboard of de "
                     "onderzoeksafdeling van uw gemeente om ze aan te leveren.")
    st.info("\n\n".join(lines), icon=":material/info:")


REFERENCE_NAMES = (("all_gemeenten", "alle gemeenten"), ("gka", "GKA-gemeenten"), ("peers", "vergelijkbare gemeenten"))


def key_figure(figure: dict) -> None:
    """One key figure as a metric: the value, its change since the previous period (coloured
    only when beyond its margin), and in the caption its period, n, 95 % interval and the
    references (or why they are withheld)."""
    unit = figure["unit"]
    suffix = registry.UNITS[unit][2]
    long_unit = len(suffix) > 2  # "per 1.000 inw." goes in the label, or the number is cut off
    if "too_estimated" in figure:
        st.metric(figure["label"], "niet getoond")
        st.caption(f"{figure['period']} · {formatting.number(figure['too_estimated'] * 100, 0)} % van de leerlingen zit "
                   "in cellen die DUO als '<5' publiceert en die dus geschat zijn: het cijfer zou vooral de "
                   "schatting tonen.")
        return
    change = figure.get("change")
    delta = figure["value"] - figure["previous"] if figure["previous"] is not None else None
    text = formatting.difference(delta, unit) if delta is not None else ""
    quiet = text.startswith("±") or (change is not None and change.verdict == "binnen de marge")
    if delta is not None:
        text += f" t.o.v. {figure['previous_period']}"
    st.metric(figure["label"] + (f" ({suffix})" if long_unit else ""),
              formatting.value(figure["value"], unit, with_unit=not long_unit),
              delta=text or None,
              delta_color="off" if quiet else {True: "normal", False: "inverse", None: "off"}[figure["higher_is_better"]],
              delta_arrow="off" if quiet else "auto")
    parts = [figure["period"] + (" (indicatief)" if figure.get("indicative") else "")]
    if figure.get("n"):
        parts.append(f"n = {formatting.number(figure['n'], 0)}")
    if figure.get("estimated_share"):
        parts.append(f"{formatting.number(figure['estimated_share'] * 100, 0)} % van de leerlingen in geschatte "
                     "cellen (DUO '<5'), in de marge meegeteld")
    if figure.get("low") is not None:
        parts.append(f"95 %: {formatting.interval(figure['low'], figure['high'], unit)}")
    if change is not None:
        parts.append(f"verschil met {figure['previous_period']}: {change.verdict}"
                     + (" (over de methodebreuk van DUO heen)" if figure.get("method_break") else ""))
    for field, name in REFERENCE_NAMES:
        if field == "all_gemeenten" or figure.get(field) is not None:
            parts.append(f"{name}: " + (formatting.value(figure[field], unit) if figure.get(field) is not None
                                        else "niet getoond"))
    if figure["withheld"]:
        parts.append(f"{figure['withheld']} {'waarde' if figure['withheld'] == 1 else 'waarden'} onderdrukt "
                     "(te weinig leerlingen)")
    st.caption(" · ".join(parts))


def database_unreachable() -> None:
    """What every visitor sees while the database is down or busy: a plain sentence, no
    traceback (no host, port or path); the next click tries again, so the app recovers by
    itself when the database is back."""
    st.error("Het dashboard kan de database op dit moment niet bereiken. Probeer het over een minuut opnieuw; "
             "blijft dit zo, neem dan contact op met de beheerder.", icon=":material/cloud_off:")
    st.stop()
