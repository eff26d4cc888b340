"""Beheer (beheerders only): users, imports through the same importers as the command line,
and the audit log."""

import tempfile
from datetime import datetime, time
from pathlib import Path

import pandas as pd
import streamlit as st

from gka_dash import audit, config, formatting, monitoring, queries, ui
from gka_dash.access import users
from gka_dash.access import oidc, second_factor
from gka_dash.errors import GkaError
from gka_dash.importers import isolated
from gka_dash.scope import ROLES, Scope

user = ui.require_user()
ui.page_header("Beheer", "Gebruikers, toegangsreview, gegevens inlezen en het auditlog met signalen.")
if user.role != "beheerder":
    st.error("Deze pagina is alleen voor beheerders.")
    st.stop()
if ui.presenting():
    st.info("Beheer is niet beschikbaar in de presentatiemodus.")
    st.stop()
engine = ui.engine()
people, review, organisation, imports, log = st.tabs(
    ["Gebruikers", "Toegangsreview", "Organisatie-inlog", "Gegevens inlezen", "Auditlog"])


def act(action, success: str) -> None:
    """Run one change in its own transaction; show the core's own message when it refuses."""
    try:
        with engine.begin() as conn:
            action(conn)
    except GkaError as exc:
        st.error(ui.plain(str(exc)))
    else:
        st.success(success)


with people:
    with engine.connect() as conn:
        everyone = users.list_users(conn)
    st.dataframe([{"gebruiker": u.username, "naam": u.name, "rol": u.role, "gemeenten": ", ".join(u.gemeenten) or ("alle" if u.role == "beheerder" else "–"),
                   "mislukte pogingen": u.failed_logins,
                   "geblokkeerd tot": formatting.moment(u.locked_until) if u.locked() else "–",
                   "demo": "ja" if u.demo else "nee"} for u in everyone], hide_index=True, width="stretch")
    codes = queries.gemeenten(engine, Scope.everything())
    names = dict(zip(codes["code"], codes["name"]))
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Gebruiker toevoegen**")
        left, right = st.columns(2)
        username, name = left.text_input("Gebruikersnaam"), right.text_input("Naam")
        email, role = left.text_input("E-mail"), right.selectbox("Rol", ROLES, index=2)
        scope = st.multiselect("Gemeenten (geen voor een beheerder)", list(names),
                               format_func=lambda c: f"{names[c]} ({c})", placeholder="Kies gemeenten")
        password = st.text_input("Wachtwoord (minstens 12 tekens)", type="password")
        if st.form_submit_button("Toevoegen"):
            act(lambda c: users.add_user(c, username, role=role, gemeenten=scope, password=password, name=name,
                                         email=email, by=user.username), f"Gebruiker {username} toegevoegd.")
    chosen = st.selectbox("Gebruiker wijzigen", [u.username for u in everyone], key="beheer_user")
    target = next(u for u in everyone if u.username == chosen)
    if target.login_via:
        st.caption(f"{ui.plain(chosen)} logt in met het organisatie-account ({ui.plain(target.login_via)}): rol en "
                   "gemeenten komen uit de regels onder Organisatie-inlog en worden bij elke login opnieuw gezet; "
                   "een wachtwoord heeft dit account niet.")
    with st.form("change_user"):
        role = st.selectbox("Rol", ROLES, index=ROLES.index(target.role))
        scope = st.multiselect("Gemeenten", list(names), default=[g for g in target.gemeenten if g in names],
                               format_func=lambda c: f"{names[c]} ({c})", placeholder="Kies gemeenten")
        password = st.text_input("Nieuw wachtwoord (leeg laten om niet te wijzigen)", type="password")
        save, unlock, reset_factor, remove = st.columns(4)
        if save.form_submit_button("Opslaan"):
            act(lambda c: users.set_role(c, chosen, role=role, gemeenten=scope, by=user.username), "Rol opgeslagen.")
            if password:
                act(lambda c: users.reset_password(c, chosen, password, by=user.username), "Wachtwoord gezet.")
        if unlock.form_submit_button("Deblokkeren"):
            act(lambda c: users.unlock(c, chosen, by=user.username), f"{chosen} gedeblokkeerd.")
        if reset_factor.form_submit_button("Tweede factor opnieuw", disabled=chosen == user.username,
                                           help="Het account koppelt bij de volgende login opnieuw een app "
                                                "(alleen een andere beheerder kan dit)."):
            act(lambda c: second_factor.reset(c, chosen, by=user.username, by_role=user.role),
                f"Tweede factor van {chosen} gewist; bij de volgende login koppelt het account opnieuw een app.")
        if remove.form_submit_button("Verwijderen", type="primary", disabled=chosen == user.username):
            act(lambda c: users.remove_user(c, chosen, by=user.username), f"{chosen} verwijderd.")

with organisation:
    providers = oidc.providers()
    if not providers:
        ui.empty("Er is geen identity provider ingesteld. Zet er een in .streamlit/secrets.toml onder [oidc.<naam>] "
                 "(label, issuer, client_id, client_secret) of in GKA_OIDC_ISSUER, GKA_OIDC_CLIENT_ID en "
                 "GKA_OIDC_CLIENT_SECRET; zie de README.")
    else:
        st.markdown("Wie met het account van de eigen organisatie inlogt, krijgt de rol en gemeenten van de regels "
                    "hieronder die bij de claims van dat account passen. Past geen regel, dan is er geen toegang "
                    "(het auditlog zegt het). Een verwijderde regel beëindigt de sessies van die organisatie-accounts.")
        with engine.connect() as conn:
            found = oidc.rules(conn)
        ui.plain_table(pd.DataFrame([{"aanbieder": providers[r["provider"]].label if r["provider"] in providers
                                      else r["provider"], "claim": oidc.CLAIMS.get(r["claim"], r["claim"]),
                                      "waarde": r["value"], "rol": r["role"], "gemeenten": r["gemeenten"] or "alle",
                                      "door": r["created_by"]} for r in found],
                                    columns=["aanbieder", "claim", "waarde", "rol", "gemeenten", "door"]))
        with st.form("add_rule", clear_on_submit=True):
            st.markdown("**Regel toevoegen**")
            left, middle, right = st.columns(3)
            chosen_provider = left.selectbox("Aanbieder", list(providers), format_func=lambda k: providers[k].label)
            claim = middle.selectbox("Claim", list(oidc.CLAIMS), format_func=oidc.CLAIMS.get)
            value = right.text_input("Waarde (bijvoorbeeld gka-rotterdam of rotterdam.nl)")
            rule_role = left.selectbox("Rol", ROLES, index=2, key="rule_role")
            rule_scope = st.multiselect("Gemeenten (geen voor een beheerder)", list(names),
                                        format_func=lambda c: f"{names[c]} ({c})", placeholder="Kies gemeenten",
                                        key="rule_scope")
            if st.form_submit_button("Regel toevoegen"):
                act(lambda c: oidc.add_rule(c, chosen_provider, claim, value, rule_role, rule_scope, by=user.username),
                    "Regel toegevoegd.")
        if found:
            labels = {r["id"]: f"{r['provider']}: {oidc.CLAIMS.get(r['claim'], r['claim'])} {r['value']} → {r['role']}"
                      for r in found}
            gone = st.selectbox("Regel verwijderen", list(labels), format_func=labels.get, key="rule_remove")
            if st.button("Verwijder regel"):
                act(lambda c: oidc.remove_rule(c, gone, by=user.username), "Regel verwijderd.")

with review:
    st.caption("Wie mag wat zien, hoe logt elk account in, en wie gaf die rechten (BIO2 5.18: minstens jaarlijks "
               "beoordelen, bijzondere rechten elk kwartaal). De tabel is als CSV te downloaden voor het verslag.")
    days = st.number_input("Ongebruikt na (dagen zonder login)", 7, 730, config.unused_days(), key="review_days")
    with engine.connect() as conn:
        accounts = users.review(conn, int(days))
        idle = [u.username for u in users.list_users(conn) if users.unused(u, int(days)) and u.username != user.username]
    ui.table(user, pd.DataFrame(accounts, columns=users.REVIEW_COLUMNS), "toegangsreview")
    if idle and st.button(f"Zet {len(idle)} ongebruikte account(s) uit: {', '.join(idle)}", type="primary"):
        act(lambda c: users.disable_unused(c, int(days), by=user.username),
            f"Uitgezet: {', '.join(idle)}. Hun sessies zijn beëindigd; weer aanzetten met "
            "'python -m gka_dash users enable NAAM'.")

IMPORTERS = {  # label → (command, options from the form)
    "CBS wijk- en buurtkaart (zip met shapefile, GeoPackage of GeoJSON)":
        ("import-areas", lambda o: ["--level", o["level"], "--year", str(o["year"])]),
    "DUO vestigingen (CSV) of scholen als puntbestand": ("import-schools", lambda o: []),
    "Indicatoren in het lange CSV-formaat": ("import-indicators", lambda o: []),
    "DUO/CBS open data (eindtoets, achterstandsscores, schooladviezen, APCG)": ("import-open-data", lambda o: []),
    "DUO leerlingen per vestiging naar postcode (po of vo)": ("import-pupils-postcode", lambda o: []),
    "DUO zittenblijvers, opstromers en afstromers vo": ("import-doorstroom", lambda o: []),
    "CBS Kerncijfers wijken en buurten (export uit StatLine, JSON of CSV)": ("import-kerncijfers", lambda o: []),
    "Catalogus van aanpakken voor het gesprek (CSV, zie docs/aanpakken.md)": ("import-aanpakken", lambda o: []),
}

with imports:
    kind = st.selectbox("Soort bestand", list(IMPORTERS))
    options = {}
    if kind.startswith("CBS"):
        left, right = st.columns(2)
        options = {"level": left.selectbox("Niveau", ["wijk", "buurt", "gemeente"]),
                   "year": right.number_input("Jaar van de indeling", 2000, 2100, 2015)}
    upload = st.file_uploader("Bestand", type=["zip", "gpkg", "geojson", "json", "shp", "csv"])
    if upload is not None and st.button("Inlezen", type="primary"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(upload.name).name  # the importers name the file in their errors
            path.write_bytes(upload.getvalue())
            command, extra = IMPORTERS[kind]
            with st.spinner("Bezig met inlezen…"):
                outcome = isolated.run(command, path, extra(options), by=user.username)
        if outcome.ok:  # the lines quote the file's own text: plain, never Markdown
            st.success("\n\n".join(ui.plain(line) for line in outcome.lines))
        else:
            st.error(f"Niet ingelezen; er is niets opgeslagen. {ui.plain(outcome.lines[0])}")

with log:
    left, middle, right = st.columns(3)
    who = left.selectbox("Gebruiker", ["", *[u.username for u in everyone]], format_func=lambda u: u or "alle")
    what = middle.selectbox("Actie", ["", *audit.actions(engine)],
                            format_func=lambda a: audit.action_text(a) if a else "alle")
    days = right.date_input("Periode", value=(), format="DD-MM-YYYY")
    since, until = (None, None)
    if len(days) == 2:
        since = datetime.combine(days[0], time.min, tzinfo=formatting.TIMEZONE)  # the days of the times shown
        until = datetime.combine(days[1], time.max, tzinfo=formatting.TIMEZONE)
    found = monitoring.signals(engine)
    st.markdown(f"**Signalen (laatste 24 uur):** {len(found) or 'geen'}")
    for signal in found:
        st.warning(ui.plain(f"{signal.kind}: {signal.username}, {formatting.moment(signal.at)}: {signal.text}"))
    ui.table(user, audit.entries(engine, username=who or None, action=what or None, since=since, until=until),
             "auditlog")
