"""Questions 3 and 4 of the gesprek on screen: per highlight the approaches that fit it and the
partners they need, a form to record what was agreed, and the agreements with their follow-up
(issue #27). Everything shown comes from ``gesprek.approaches`` and ``gesprek.agreements``,
which check the scope."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from .. import charts, registry
from ..errors import GkaError
from ..gesprek import OUDEROPLEIDING, Highlight, agreements, approaches
from ..access.users import User
from .chrome import plain, presenting
from .database import engine


def target(h: Highlight, gemeente: str, name: str) -> tuple[str, str, str] | None:
    """(indicator, subject, subject name) an agreement on this highlight would follow."""
    key = h.params.get("indicator") or (OUDEROPLEIDING if h.page == "ouderopleiding" else None)
    if key not in registry.INDICATORS:
        return None
    return key, h.subject or gemeente, h.subject_name or name


def _approach_line(a: approaches.Approach) -> str:
    examples = ", ".join(f"[{plain(g)}]({link})" for g, link in a.examples)
    ages = f", {a.ages[0]}-{a.ages[1]} jaar" if a.ages else ""
    return (f"**{plain(a.name)}** — {plain(a.evidence)}  \n{plain(a.description)}  \n"
            f"<small>Voor: {plain(a.target_group or 'niet vermeld')}{ages}; {', '.join(a.phases)}; "
            f"thema's: {', '.join(a.themes)}. Nodig: {', '.join(a.partners)}."
            f"{' Voorbeeld: ' + examples + '.' if examples else ''} Bron: {plain(a.source)} ({a.source_date}).</small>")


def for_highlight(user: User, h: Highlight, gemeente, number: str) -> None:
    """Under a highlight: what could be done (approaches ranked by evidence), who is needed, and
    the form that records an agreement."""
    aim = target(h, gemeente.code, gemeente.name)
    if aim is None:
        return
    fits = approaches.matching(engine(), aim[0])
    counted = {0: "nog geen aanpak", 1: "1 aanpak"}.get(len(fits), f"{len(fits)} aanpakken")
    with st.expander(f"Wat kunnen we doen? Wie hebben we daarvoor nodig? ({counted})"):
        if fits:
            phases = st.multiselect("Fase", approaches.PHASES, key=f"phases_{number}", placeholder="Alle fasen")
            shown = [a for a in fits if not phases or set(phases) & set(a.phases)]
            for a in shown:
                st.markdown(_approach_line(a), unsafe_allow_html=True)
            st.caption("Gerangschikt naar bewijs: eerst wat in onderzoek effectief bleek (NJi-niveaus), dan beschreven "
                       "praktijkvoorbeelden van gemeenten, die niet op effect beoordeeld zijn.")
            own = agreements.partners(engine(), user.scope, gemeente.code)
            lines = []
            for kind, count in approaches.partner_kinds(shown):
                names = [p.organisation for p in own if p.kind == kind]
                lines.append(f"- **{kind}** ({count} van de aanpakken): "
                             + (plain(", ".join(names)) if names else "_nog geen partner vastgelegd_"))
            st.markdown("**Wie hebben we daarvoor nodig?**\n" + "\n".join(lines))
        else:
            st.caption("De catalogus heeft nog geen aanpak voor dit onderwerp; de beheerder kan er een toevoegen "
                       "(Beheer → Gegevens inlezen → Aanpakken).")
        if not presenting():
            _agreement_form(user, h, gemeente, aim, fits, number)


def _agreement_form(user: User, h: Highlight, gemeente, aim, fits, number: str) -> None:
    own = agreements.partners(engine(), user.scope, gemeente.code)
    with st.form(f"agreement_{number}", clear_on_submit=True):
        st.markdown(f"**Afspraak vastleggen** — volgt {plain(registry.get(aim[0]).label.lower())} in {plain(aim[2])}")
        left, right = st.columns(2)
        chosen = left.selectbox("Aanpak", ["", *[a.name for a in fits]], format_func=lambda n: n or "(geen uit de catalogus)")
        lead = right.text_input("Trekker (organisatie of functie)")
        who = st.multiselect("Partners", [p.organisation for p in own] + [k for k in approaches.PARTNER_KINDS],
                             placeholder="Kies partners")
        goal = st.text_area("Doel", placeholder="Wat moet er over een jaar anders zijn?", height=80)
        review = st.date_input("Evaluatie op", value=date.today() + timedelta(days=182), format="DD-MM-YYYY")
        if st.form_submit_button("Afspraak opslaan"):
            try:
                agreements.record(engine(), user.scope, gemeente.code, highlight=h.title, indicator=aim[0],
                                  subject=aim[1], subject_name=aim[2], lead=lead, aim=goal, review_on=review,
                                  approach=chosen, partners=who, author=user.username)
            except GkaError as exc:
                st.error(plain(str(exc)))
            else:
                st.success("Afspraak opgeslagen; zie Afspraken hieronder.")


def section(user: User, gemeente) -> None:
    """The gemeente's agreements, each with its follow-up since the baseline."""
    found = agreements.agreements(engine(), user.scope, gemeente.code)
    st.header("Afspraken")
    if not found:
        st.caption("Nog geen afspraken. Leg er een vast onder een punt hierboven (Wat kunnen we doen?).")
        return
    soon = {a.key for a in agreements.upcoming(found, date.today())}
    for a in found:
        ind = registry.get(a.indicator)
        follow = agreements.follow_up(engine(), user.scope, a)
        with st.container(border=True, key=f"afspraak_{a.key}"):
            st.markdown(f"**{plain(a.highlight)}**{' — ' + plain(a.approach) if a.approach else ''}  \n"
                        f"Trekker: {plain(a.lead)}{'; met ' + plain(', '.join(a.partners)) if a.partners else ''}  \n"
                        f"Doel: {plain(a.aim)}")
            st.markdown(f"{plain(ind.label)} in {plain(a.subject_name)}: beginwaarde {plain(a.baseline_text)}; "
                        f"**{plain(follow.sentence)}**.")
            if len(follow.series) > 1:
                st.altair_chart(charts.follow_up(follow.frame, ind,
                                                 a.subject_name, a.baseline_period), width="stretch")
            st.caption(agreements.CAVEAT)
            when = agreements.dutch_date(a.review_on)
            st.markdown(f"Evaluatie: {when} ({a.status})" + (" — **binnenkort of verstreken**" if a.key in soon else ""))
            if not presenting():
                status = st.selectbox("Status", agreements.STATUSES, index=agreements.STATUSES.index(a.status),
                                      key=f"status_{a.key}")
                if status != a.status and st.button("Status opslaan", key=f"save_status_{a.key}"):
                    agreements.record(engine(), user.scope, gemeente.code, highlight=a.highlight, indicator=a.indicator,
                                      subject=a.subject, subject_name=a.subject_name, lead=a.lead, aim=a.aim,
                                      review_on=date.fromisoformat(a.review_on), approach=a.approach,
                                      partners=a.partners, author=user.username, key=a.key, status=status)
                    st.rerun()


def partners_section(user: User, gemeente) -> None:
    """The gemeente's own partners (question 4), kept minimal: organisation, kind, role and at most
    a team address."""
    own = agreements.partners(engine(), user.scope, gemeente.code)
    # The label stays the same as partners come and go: a label that changed would redraw the
    # expander closed after every change made in it.
    with st.expander(f"Partners van {gemeente.name}", key="partners_open"):
        if not own:
            st.caption("Nog geen partners vastgelegd.")
        for p in own:
            text, change = st.columns([5, 1], vertical_alignment="center")
            text.markdown(plain(f"{p.organisation} — {p.kind}{': ' + p.role if p.role else ''}"
                                f"{' (' + p.contact + ')' if p.contact else ''}"))
            if not presenting():
                with change.popover("Wijzigen", key=f"partner_{p.id}_open"):
                    _partner_change_form(user, gemeente, p)
        if presenting():
            return
        with st.form("partner_add", clear_on_submit=True):
            left, right = st.columns(2)
            organisation = left.text_input("Organisatie")
            kind = right.selectbox("Soort", approaches.PARTNER_KINDS)
            role = left.text_input("Rol in de aanpak")
            contact = right.text_input("Contact (een teamadres, geen persoonsgegevens)")
            if st.form_submit_button("Partner toevoegen"):
                try:
                    agreements.add_partner(engine(), user.scope, gemeente.code, organisation, kind, role, contact,
                                           user.username)
                except GkaError as exc:
                    st.error(plain(str(exc)))
                else:
                    st.rerun()


def _partner_change_form(user: User, gemeente, p: agreements.Partner) -> None:
    with st.form(f"partner_{p.id}"):
        organisation = st.text_input("Organisatie", value=p.organisation)
        kind = st.selectbox("Soort", approaches.PARTNER_KINDS, index=approaches.PARTNER_KINDS.index(p.kind)
                            if p.kind in approaches.PARTNER_KINDS else 0)
        role = st.text_input("Rol in de aanpak", value=p.role)
        contact = st.text_input("Contact (een teamadres, geen persoonsgegevens)", value=p.contact)
        save, remove = st.columns(2)
        saved = save.form_submit_button("Opslaan")
        removed = remove.form_submit_button("Verwijderen", help="De partner verdwijnt uit de lijst en zijn "
                                            "contact wordt gewist; afspraken houden de naam.")
    try:
        if saved:
            agreements.change_partner(engine(), user.scope, gemeente.code, p.id, organisation, kind, role, contact,
                                      user.username)
        elif removed:
            agreements.remove_partner(engine(), user.scope, gemeente.code, p.id, user.username)
        else:
            return
    except GkaError as exc:
        st.error(plain(str(exc)))
    else:
        st.rerun()


def summary(user: User, gemeente) -> None:
    """On Overzicht: each agreement in one line with its follow-up, the reviews that are due first."""
    found = agreements.agreements(engine(), user.scope, gemeente.code)
    if not found:
        return
    st.header("Afspraken")
    soon = {a.key for a in agreements.upcoming(found, date.today())}
    lines = []
    for a in found:
        follow = agreements.follow_up(engine(), user.scope, a)
        lines.append(f"- **{plain(a.highlight)}** ({plain(a.lead)}): {plain(follow.sentence)}; evaluatie "
                     f"{agreements.dutch_date(a.review_on)}{' — **binnenkort of verstreken**' if a.key in soon else ''}"
                     f" ({a.status})")
    st.markdown("\n".join(lines))
    st.caption(agreements.CAVEAT + " Details en de grafiek per afspraak staan op Gesprek.")
