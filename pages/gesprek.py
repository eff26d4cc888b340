"""Gesprek: what stands out in one gemeente, each with its number and a link to the view that
shows it; the four questions of the verdiepend gesprek with notes kept per gemeente; and the
report to take into the meeting."""

import streamlit as st

from gka_dash import db, formatting, gesprek, privacy, queries, ui
from gka_dash.exports import report, slides
from gka_dash.gesprek import notes
from gka_dash.errors import GkaError

PAGE_TITLES = {"afstroom": "Afstroom", "scholen": "Scholen", "ouderopleiding": "Ouderopleiding", "kaart": "Kaart"}

user = ui.require_user()
ui.page_header("Gesprek", "Voorbereiding en verslag van het verdiepend gesprek: wat valt op, en de notities bij "
                          "de vier vragen.")
gemeente = ui.gemeente_select(user)
engine = ui.engine()
presenting, pseudonyms = ui.presenting(), ui.pseudonyms()

st.header("Wat valt op")
found = gesprek.highlights(engine, user.scope, gemeente.code, gemeente.name, pseudonyms=pseudonyms)
for question, heading in ((1, notes.QUESTIONS[0]), (2, notes.QUESTIONS[1])):
    items = [h for h in found.items if h.question == question]
    if items:
        st.subheader(heading)
    for number, h in enumerate(items):
        with st.container(border=True, key=f"highlight_{question}_{number}"):
            text, figure = st.columns([4, 1], vertical_alignment="center")
            text.markdown(f"**{ui.plain(h.title)}**  \n{ui.plain(h.text)}")
            ui.statement(h.number, figure, size="1.6rem")  # the number large, its margin and reference under it
            if h.detail:
                figure.caption(ui.plain(h.detail))
            if h.table is not None:
                ui.plain_table(h.table)
            st.page_link(f"pages/{h.page}.py", label=f"Bekijk in {PAGE_TITLES[h.page]}", icon=":material/arrow_forward:",
                         query_params=h.params)
            ui.agreements.for_highlight(user, h, gemeente, f"{question}_{number}")
for line in found.missing:
    st.caption(line)

st.header("De vier vragen")
current = notes.latest(engine, user.scope, gemeente.code)
versions = notes.history(engine, user.scope, gemeente.code)
for number, question in enumerate(notes.QUESTIONS, start=1):
    st.subheader(f"{number}. {question}")
    entry = current.get(number)
    if presenting:  # read-only, without who wrote it
        st.markdown(ui.plain(entry.text) if entry else "_Nog geen notitie._")
        continue
    with st.form(f"note_{gemeente.code}_{number}", border=False):
        text = st.text_area("Notitie", value=entry.text if entry else "", height=120, label_visibility="collapsed",
                            placeholder="Wat is besproken of afgesproken?")
        if st.form_submit_button("Opslaan"):
            try:
                saved = notes.save(engine, user.scope, gemeente.code, number, text, user.username)
            except GkaError as exc:
                st.error(str(exc))
            else:
                if saved:
                    st.rerun()
                st.info("Niet gewijzigd.")
    older = [v for v in versions if v.question == number]
    if older:
        st.caption(f"Laatst gewijzigd door {ui.plain(older[0].author)}, {formatting.moment(older[0].at)}")
        with st.expander(f"Eerdere versies ({len(older)})"):
            st.dataframe(notes.as_frame(older), hide_index=True, width="stretch")

ui.agreements.section(user, gemeente)
ui.agreements.partners_section(user, gemeente)

if presenting:
    st.stop()
st.header("Rapport")
offered = report.available_views(engine, user.scope, gemeente.code, gemeente.name)
views = st.multiselect("Weergaven in het rapport", offered, default=offered, format_func=report.VIEWS.get,
                       placeholder="Kies weergaven")
# Pseudonyms unless chosen otherwise: a file travels further than the meeting it was made for,
# and a deck that calls a named school "lager dan verwacht" reaches that school (README).
naming = st.radio("Schoolnamen in het rapport", list(report.NAMINGS), format_func=report.NAMINGS.get,
                  horizontal=True, key="report_naming")
anonymous = naming == "pseudoniemen"
st.caption("Het rapport bevat de punten hierboven, de gekozen weergaven, de notities, de afspraken, bronnen en perioden. "
           "HTML opent zonder internet; de PowerPoint heeft per punt en per weergave een dia, met de cijfers, "
           "marges en bronnen in de sprekersnotities. Onderdrukte waarden staan er ook niet in.")


def build():
    return report.build(engine, user.scope, gemeente.code, gemeente.name, views=views, author=user.name,
                        pseudonyms=anonymous)


stem = (f"gesprek-{gemeente.code}{'-pseudoniemen' if anonymous else ''}"
        f"{'-synthetisch-demo' if db.is_demo(engine) else ''}")
html_column, pdf_column, pptx_column = st.columns(3)
ui.download(user, "Rapport als HTML", lambda: report.to_html(build()), f"{stem}.html", "text/html",
            icon=":material/description:", key="report_html", where=html_column)
if report.pdf_problem():
    pdf_column.caption(report.pdf_problem())
else:
    ui.download(user, "Rapport als PDF", lambda: report.to_pdf(build()), f"{stem}.pdf", "application/pdf",
                icon=":material/picture_as_pdf:", key="report_pdf", where=pdf_column)
ui.download(user, "Rapport als PowerPoint", lambda: slides.to_pptx(build()), f"{stem}.pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            icon=":material/slideshow:", key="report_pptx", where=pptx_column)

schools = queries.schools(engine, user.scope, gemeente.code)
if len(schools):
    with st.expander("Sleutel van de pseudoniemen (alleen voor u; niet te zien in presentatiemodus)"):
        key = privacy.pseudonymise(schools)[["id", "name"]].merge(
            schools[["id", "name"]], on="id", suffixes=(" pseudoniem", ""))
        st.dataframe(key.rename(columns={"name pseudoniem": "Pseudoniem", "name": "School", "id": "Vestiging"})
                     [["Pseudoniem", "School", "Vestiging"]], hide_index=True, width="stretch")
