"""The one module of the core that imports Streamlit: login gate, shared layout and filters
bound to the URL, so pages stay a screenful of "what the user sees"."""

from __future__ import annotations

import html
import os
from datetime import timedelta
from typing import NamedTuple
from urllib.parse import urlencode

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError, Validator

from . import audit, auth, charts, config, db, demo, privacy, queries, registry, tables, users
from .users import User

SYNTHETIC_NOTE = ("**Synthetisch (demo)** — alle gemeenten, wijken, scholen en cijfers in deze "
                  "database zijn verzonnen en dienen alleen om het dashboard te laten zien.")


def engine():
    return _prepared_engine(config.database_url())


@st.cache_resource(show_spinner="Database voorbereiden…")
def _prepared_engine(url: str):
    """One engine per database URL per process; an empty database first gets the demo."""
    eng = db.get_engine(url)
    demo.ensure_demo(eng)
    return eng


def _secret(name: str, env: str, default=None):
    """A setting from the environment or from [auth] in .streamlit/secrets.toml, never from code."""
    if os.environ.get(env):
        return os.environ[env]
    try:
        return st.secrets.get("auth", {}).get(name, default)
    except FileNotFoundError:  # no secrets.toml at all
        return default


def cookie_key() -> str | None:
    return _secret("cookie_key", "GKA_COOKIE_KEY") or (auth.DEMO_COOKIE_KEY if db.is_demo(engine()) else None)


class PasswordRule(Validator):
    """The dashboard's rule (at least 12 characters) instead of the library's 8-20 with symbols."""

    def validate_password(self, password: str) -> bool:
        return len(password) >= users.MIN_PASSWORD_LENGTH


def authenticator() -> stauth.Authenticate:
    """streamlit-authenticator for this session, with credentials re-read from the database.

    The object lives as long as the session (building it renders its cookie component, which
    may happen once per run at most); its credentials are replaced on every call, so an
    account added, removed or locked in Beheer counts from the next click.
    """
    built = st.session_state.get("_authenticator")
    if built is None:
        built = stauth.Authenticate({"usernames": {}}, cookie_name=auth.COOKIE_NAME, cookie_key=cookie_key(),
                                    cookie_expiry_days=float(_secret("cookie_expiry_days", "GKA_COOKIE_EXPIRY_DAYS", 1)),
                                    validator=PasswordRule(), auto_hash=False, login_sleep_time=0)
        st.session_state["_authenticator"] = built
    with engine().connect() as conn:
        built.authentication_controller.authentication_model.credentials = auth.credentials(conn)
    return built


def refuse_unsafe_deployment() -> None:
    problems = auth.deployment_problems(engine(), cookie_key())
    if problems:
        st.error("Het dashboard start niet, omdat deze installatie niet veilig is: " + "; ".join(problems) + ".")
        st.stop()


def current_user() -> User | None:
    """The logged-in user, re-read from the database on every run, so a removed or locked
    account loses access at its next click. A valid login cookie logs in without the form."""
    refuse_unsafe_deployment()
    try:
        authenticator().login(location="unrendered")
    except LoginError:  # a cookie of an account that no longer exists
        st.session_state["authentication_status"] = None
    username = st.session_state.get("username")
    if not st.session_state.get("authentication_status") or not username:
        return None
    with engine().connect() as conn:
        user = users.get_user(conn, username)
    if user is None or user.locked():
        _forget()
        return None
    _store_login_cookie()
    return user


def require_user() -> User:
    """Every page calls this first: without a login it shows the login form and nothing else."""
    user = current_user()
    if user is None:
        login_page()
        st.stop()
    return user


def login_page() -> None:
    st.title("GKA Dashboard Gelijke Kansen")
    st.caption("Gesloten omgeving voor medewerkers van gemeenten en regiocoördinatoren van de "
               "Gelijke Kansen Alliantie.")
    authenticator().login(location="main", key="login", fields={
        "Form name": "Inloggen", "Username": "Gebruikersnaam", "Password": "Wachtwoord", "Login": "Inloggen"})
    status = st.session_state.get("authentication_status")
    if status is True:
        _record_login(st.session_state["username"], True)
        st.session_state["_cookie_due"] = True
        st.rerun()
    if status is False:
        _record_failure()
    if db.is_demo(engine()):
        st.info(SYNTHETIC_NOTE + "\n\nDemo-accounts: " + "; ".join(
            f"`{u}` / `{pw}` ({role}{' ' + ', '.join(g) if g else ''})"
            for u, role, g, pw, _ in demo.DEMO_USERS))


def _record_login(username: str, success: bool) -> User | None:
    with engine().begin() as conn:
        return users.record_login(conn, username, success, max_failures=config.max_failed_logins(),
                                  lockout=timedelta(minutes=config.lockout_minutes()))


def _record_failure() -> None:
    """Count the failure against the account the library just refused (it keeps the count of
    this run in its credentials); an unknown name is audited as such."""
    tried = [name for name, entry in st.session_state["_authenticator"].authentication_controller.authentication_model
             .credentials["usernames"].items() if entry.get("failed_login_attempts")]
    user = _record_login(tried[0], False) if tried else _record_login("-", False)
    if user is not None and user.locked():
        st.error(f"Dit account is tijdelijk geblokkeerd na te veel mislukte pogingen. Probeer het na "
                 f"{user.locked_until:%H:%M} UTC opnieuw of vraag een beheerder.")
    else:
        st.error("Gebruikersnaam of wachtwoord onjuist.")
    st.session_state["authentication_status"] = None


def _forget() -> None:
    """End the session's login and drop every filter and cached object of it."""
    for key in list(st.session_state):
        if key not in ("logout", "_authenticator"):
            del st.session_state[key]
    st.session_state["authentication_status"] = None


def _logged_out(details: dict) -> None:
    with engine().begin() as conn:
        audit.log(conn, details.get("username") or "-", "logout")
    _forget()


def _store_login_cookie() -> None:
    """Write the login cookie in the first run after a form login.

    The library writes it through a browser component in the login run itself, but that run
    ends in ``st.rerun()`` before the browser has mounted the component, so the cookie would
    never arrive; this run renders the component and lets it finish.
    """
    if st.session_state.pop("_cookie_due", False):
        authenticator().cookie_controller.set_cookie()


def sidebar(user: User) -> None:
    with st.sidebar:
        scope = "alle gemeenten" if user.scope.is_everything else ", ".join(user.gemeenten)
        st.caption(f"Ingelogd als **{user.name}** ({user.role}: {scope})")
        authenticator().logout("Uitloggen", location="sidebar", key="logout_button", callback=_logged_out)
        if db.is_demo(engine()):
            st.warning("Synthetische demodata", icon=":material/science:")
        with st.expander("Wachtwoord wijzigen"):
            try:
                changed = authenticator().reset_password(user.username, location="main", key="password", fields={
                    "Form name": "Wachtwoord wijzigen", "Current password": "Huidig wachtwoord",
                    "New password": "Nieuw wachtwoord (minstens 12 tekens)", "Repeat password": "Herhaal",
                    "Reset": "Wijzigen"})
            except Exception as exc:  # the library raises its own error types with an English text
                st.error(f"Niet gewijzigd: {exc}")
                changed = False
            if changed:
                new_hash = st.session_state["_authenticator"].authentication_controller.authentication_model.credentials[
                    "usernames"][user.username]["password"]
                with engine().begin() as conn:
                    users.store_password_hash(conn, user.username, new_hash, by=user.username)
                st.success("Wachtwoord gewijzigd.")


def page_header(title: str, subtitle: str = "") -> None:
    """The page's title and purpose; its corner keeps a place for "Deel deze weergave", which
    ``run_page`` fills once the page has set every filter in the URL."""
    head, corner = st.columns([4, 1], vertical_alignment="bottom")
    head.title(title)
    st.session_state["_share_slot"] = None if presenting() else corner.empty()
    if subtitle:
        st.caption(subtitle)
    if db.is_demo(engine()):
        st.info(SYNTHETIC_NOTE, icon=":material/science:")


PRESENTATION_PARAMS = ("presentatie", "pseudoniemen")
PRESENTATION_CSS = """<style>
html { font-size: 21px; }
.stApp, [data-testid="stHeader"] { background: #ffffff; }
.stApp p, .stApp li, .stApp label, .stApp h1, .stApp h2, .stApp h3 { color: #000000; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { color: #111111 !important; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 4.5rem 3rem 3rem !important; }
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


def presentation_controls() -> tuple[str, ...]:
    """The presentation switch: in the sidebar normally, at the top of the page while
    presenting (there is no sidebar then). Returns the URL parameters it set."""
    if not presenting():  # off leaves the URL alone: links stay free of presentatie=0
        st.sidebar.toggle("Presentatiemodus", key="filter_presentatie")
        return ()
    left, right, _ = st.columns([1, 1, 3])
    if url_flag("Presentatiemodus", "presentatie", where=left):
        url_flag("Schoolnamen als pseudoniem", "pseudoniemen", where=right, default=True)
        st.html(PRESENTATION_CSS)
        return PRESENTATION_PARAMS
    return ()


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
        st.error(f"Gemeente {requested} valt buiten uw bevoegdheid; er wordt niets van getoond. "
                 "Kies in de zijbalk een gemeente waarvoor u bent gemachtigd.")
        st.query_params.pop("gemeente")
    names = dict(zip(options["code"], options["name"]))
    code = url_choice("Gemeente", list(names), "gemeente", format_func=lambda c: f"{names[c]} ({c})",
                      where=st if presenting() else st.sidebar)
    return Gemeente(user.scope.check(code), names[code])


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
    try:
        page.run()
        _offer_share_link()
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


def map_view(view, height: int = 520) -> None:
    """The map with its legend underneath: pydeck draws none, so this one uses the map's colours."""
    st.pydeck_chart(view.deck, height=height)
    entries, title = view.legend, view.title
    items = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:0 14px 4px 0">'
        f'<span style="width:18px;height:14px;background:{e.colour};border:1px solid #777;'
        f'margin-right:6px;display:inline-block"></span>{html.escape(e.label)}</span>'
        for e in entries)
    st.html(f'<div role="list" aria-label="Legenda" style="font-size:0.95rem">'
            f'<strong>{html.escape(title)}</strong><br>{items}</div>')


def _audit_export(eng, user: User, what: str) -> None:
    with eng.begin() as conn:
        audit.log(conn, user.username, "export", what)


def table(user: User, frame, stem: str) -> None:
    """Render a table and offer exactly that table as CSV; the download is audited.

    Numbers use the browser's locale, which shows a decimal comma in a Dutch browser. While
    presenting, the table folds away and offers no download.
    """
    where = st.expander("Tabel") if presenting() else st.container()
    where.dataframe(frame, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(c, format="localized")
        for c in frame.columns if frame[c].dtype.kind == "f"})
    if presenting():
        return
    synthetic = db.is_demo(engine())
    name = f"{stem}{'-synthetisch-demo' if synthetic else ''}.csv"
    st.download_button("Download tabel (CSV)", tables.to_csv(frame, synthetic=synthetic), file_name=name,
                       mime="text/csv", icon=":material/download:", on_click=_audit_export,
                       args=(engine(), user, name), key=f"csv_{stem}")


def chart(user: User, chart, stem: str) -> None:
    """Render an altair chart with PNG and SVG downloads, rendered on the server only when asked;
    while presenting, with type readable on a projector and no downloads."""
    if presenting():
        st.altair_chart(charts.for_projector(chart), width="stretch")
        return
    st.altair_chart(chart, width="stretch")
    suffix = "-synthetisch-demo" if db.is_demo(engine()) else ""
    columns = st.columns([1, 1, 4])
    for column, fmt in zip(columns, ("png", "svg")):
        download(user, f"Grafiek als {fmt.upper()}", lambda fmt=fmt: charts.image(chart, fmt),
                 f"{stem}{suffix}.{fmt}", "image/png" if fmt == "png" else "image/svg+xml",
                 icon=":material/image:", key=f"{fmt}_{stem}", where=column)


def download(user: User, label: str, render, file_name: str, mime: str, *, icon: str, key: str, where=None) -> None:
    """A download button whose file is made on the server only when clicked; the click is audited."""
    eng = engine()

    def make():
        _audit_export(eng, user, file_name)
        return render()

    (where or st).download_button(label, make, file_name=file_name, mime=mime, icon=icon, key=key)


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
    chosen = url_choice("Markeer een school", ["", *ids], "school",
                        format_func=lambda i: names.get(i, i) if i else "(geen)")
    return chosen or None
