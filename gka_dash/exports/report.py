"""The conversation report of one gemeente: highlights, the chosen views, the notes, sources and
periods, as a self-contained HTML file and as a PDF.

Everything in it comes from the scoped, suppressed functions the pages use, so the report can
hold no figure the screen would not show. The HTML has no script and loads nothing: charts are
inline SVG, so it opens offline and in a mail client's viewer.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Callable, NamedTuple

import altair as alt

from .. import analysis, charts, config, db, formatting, gesprek, maps, privacy, queries, registry, series
from ..gesprek import agreements, notes
from ..cache import cached
from ..errors import GkaError
from ..scope import Scope

VIEWS = {"afstroom": "Afstroom per wijk", "kaart": "Kaart van de wijken", "scholen": "Scholen en hun leerlingpopulatie",
         "ouderopleiding": "Ouderopleiding"}
NAMINGS = {"pseudoniemen": "Pseudoniemen (School A, B, …), aanbevolen", "namen": "Echte schoolnamen"}
SYNTHETIC_LABEL = "Synthetisch (demo): alle gemeenten, wijken, scholen en cijfers in dit rapport zijn verzonnen."


class Section(NamedTuple):
    title: str
    text: str
    chart: alt.Chart | None
    withheld: str
    indicators: list[str]  # keys, for the list of sources
    periods: list[str]
    split: Callable[[int], list[alt.Chart]] | None = None  # a long list of rows, in pages of at most n
    native: series.Plot | None = None  # the same figure as series, for a native PowerPoint chart
    slide: Callable[[], alt.Chart] | None = None  # the chart drawn for a 16:9 slide, where it differs

    def pages(self, rows: int) -> list[alt.Chart]:
        """The chart as pages (of a PDF, of slides) that each hold at most ``rows`` rows, each with
        its axis; a chart without rows (a map, a scatter) is one page."""
        if self.chart is None:
            return []
        return self.split(rows) if self.split is not None else [self.chart]


class Report(NamedTuple):
    gemeente: str
    name: str
    made: datetime
    author: str
    synthetic: bool
    highlights: gesprek.Highlights
    sections: list[Section]
    notes: dict[int, notes.Note]
    pseudonyms: bool
    sources: list[str]  # one line per indicator: label, source, periods
    agreements: list[tuple[agreements.Agreement, agreements.FollowUp]] = []  # the samenwerkingsagenda

    def agreement_lines(self) -> list[tuple[str, list[str]]]:
        """Each agreement as a heading and its lines, the same in HTML, PDF and slides."""
        return [(f"{a.highlight}{' — ' + a.approach if a.approach else ''}", [
            f"Trekker: {a.lead}" + (f"; met {', '.join(a.partners)}" if a.partners else ""),
            f"Doel: {a.aim}",
            f"Volgt {registry.get(a.indicator).label.lower()} in {a.subject_name}: {a.baseline_text}; {f.sentence}.",
            f"Evaluatie: {agreements.dutch_date(a.review_on)} ({a.status})"]) for a, f in self.agreements]

    @property
    def stem(self) -> str:
        return f"gesprek-{self.gemeente}-{self.made:%Y-%m-%d}{'-synthetisch-demo' if self.synthetic else ''}"


def _afstroom(engine, scope, gemeente, name, pseudonyms) -> Section | None:
    ind = registry.get(gesprek.AFSTROOM)
    latest = analysis.latest_change(engine, scope, gemeente, ind.key)
    if latest is None:
        return None
    before, after, change = latest
    references = analysis.reference_means(engine, scope, gemeente, ind.key, [before, after])
    return Section(f"{ind.label} per wijk, {before} en {after}",
                   "Gesorteerd op verandering, de grootste toename bovenaan; dunne strepen: 95 %-intervallen. "
                   + analysis.verdict_summary(change.frame)
                   + " Lijnen: gemiddelde van de gemeente en van alle gemeenten.",
                   charts.dumbbell(change.frame, ind, before, after, references, name),
                   privacy.withheld_text(change.withheld, ind.counted), [ind.key], [before, after],
                   lambda rows: charts.dumbbell_pages(change.frame, ind, before, after, references, name, rows))


def _kaart(engine, scope, gemeente, name, pseudonyms) -> Section | None:
    """The change in afstroom where the gemeente has it, else the wijken by the first context
    figure a Kaart opens on (a rate that differs between wijken)."""
    ind = registry.get(gesprek.AFSTROOM)
    latest = analysis.latest_change(engine, scope, gemeente, ind.key)
    if latest is not None:
        before, after, change = latest
        view = maps.change_map(change, ind, before, after)
        return Section(view.title, "Oranje: de afstroom steeg meer dan toeval verklaart; paars: zij daalde meer "
                                   "dan toeval verklaart. Wit: binnen de marge. Grijs: onderdrukt.",
                       charts.static_map(view), privacy.withheld_text(change.withheld, ind.counted),
                       [ind.key], [before, after], slide=lambda: _slide_map(view))
    present = queries.indicators_at(engine, scope, gemeente, "wijk", whole=True)
    key = next((k for k in registry.MAP_PREFERENCE if k in present), None)
    if key is None:
        return None
    ind = registry.get(key)
    period = queries.periods(engine, scope, key, gemeente=gemeente, level="wijk")[-1]
    values = analysis.area_values(engine, scope, gemeente, key, period)
    view = maps.level_map(values, ind, period, queries.level_values(engine, scope, key, "wijk", gemeente=gemeente))
    return Section(view.title, "Donkerder: een hogere waarde. Grijs: onderdrukt of geen gegevens.",
                   charts.static_map(view), privacy.withheld_text(values.withheld, ind.counted), [key], [period],
                   slide=lambda: _slide_map(view))


def _slide_map(view) -> alt.Chart:
    """The map as wide as a 16:9 slide, its legend beside it and the wijk names large enough for
    the back of the room."""
    return charts.static_map(view, width=900, height=560, name_size=28, legend="right")


def _scholen(engine, scope, gemeente, name, pseudonyms) -> Section | None:
    axes = analysis.school_axes(engine, scope, gemeente)
    if axes is None:
        return None
    x, y = registry.get(axes[0]), registry.get(axes[1])
    pairs = analysis.school_pairs(engine, scope, gemeente, x.key, y.key, pseudonyms=pseudonyms)
    if pairs.frame.empty:
        return None
    schools = queries.schools(engine, scope, gemeente, pseudonyms=pseudonyms)
    expected = (f"Stippellijn: verwacht bij deze leerlingpopulatie, over {pairs.fit.points} school-jaren van "
                "alle gemeenten." if pairs.fit else "")
    return Section(f"{y.label} tegen {formatting.in_sentence(x.label)}", " ".join(filter(None, [expected, pairs.note])),
                   charts.school_scatter(pairs.frame, schools, x, y, pairs.fit),
                   privacy.withheld_text(pairs.withheld), [y.key, x.key], sorted(pairs.frame["period"].unique()),
                   native=series.schools(pairs.frame, x, y, pairs.fit))


def _ouderopleiding(engine, scope, gemeente, name, pseudonyms) -> Section | None:
    ind = registry.get(gesprek.OUDEROPLEIDING)
    if ind.key not in queries.indicators_at(engine, scope, gemeente, "gemeente"):
        return None
    groups = analysis.by_group(engine, scope, gemeente, name, ind.key)
    lines = f"Doorgetrokken: {name}; gestreept: alle gemeenten samen, gewogen naar het aantal 17-jarigen."
    return Section(ind.label, f"{analysis.gap_text(groups, name)} {lines}", charts.group_lines(groups.frame, ind, name),
                   privacy.withheld_text(groups.withheld, ind.counted), [ind.key],
                   queries.periods(engine, scope, ind.key, gemeente=gemeente),
                   native=series.groups(groups.frame, ind, name, charts.GROUP_COLOURS))


BUILDERS = {"afstroom": _afstroom, "kaart": _kaart, "scholen": _scholen, "ouderopleiding": _ouderopleiding}


@cached
def available_views(engine, scope: Scope, gemeente: str, name: str) -> list[str]:
    """The views that have data for this gemeente: the report offers no view that would come
    out blank. Cached like a read (scope, data version): building a section to see whether it
    exists is too slow for every click on the Gesprek page."""
    scope.check(gemeente)
    return [view for view, builder in BUILDERS.items() if builder(engine, scope, gemeente, name, False) is not None]


def build(engine, scope: Scope, gemeente: str, name: str, *, views: list[str], author: str,
          pseudonyms: bool = False) -> Report:
    scope.check(gemeente)
    sections = [s for s in (BUILDERS[v](engine, scope, gemeente, name, pseudonyms) for v in views) if s]
    highlights = gesprek.highlights(engine, scope, gemeente, name, pseudonyms=pseudonyms)
    periods = {}
    for section in sections:
        for key in section.indicators:
            # Each figure's own periods: a scatter of school years against a population figure
            # measured once (the achterstandsscore's one peildatum) lists that one date for it.
            own = queries.periods(engine, scope, key, gemeente=gemeente)
            periods[key] = [p for p in own if p in section.periods] or own
    for h in highlights.items:
        for key in (h.params.get("indicator"), h.params.get("x")):
            if key and key not in periods:
                periods[key] = queries.periods(engine, scope, key, gemeente=gemeente)
    agreed = [(a, agreements.follow_up(engine, scope, a)) for a in agreements.agreements(engine, scope, gemeente)]
    return Report(gemeente, name, datetime.now(formatting.TIMEZONE), author, db.is_demo(engine), highlights, sections,
                  notes.latest(engine, scope, gemeente), pseudonyms, _sources(periods), agreed)


def _sources(periods: dict[str, list[str]]) -> list[str]:
    return [f"{registry.get(key).label}: {registry.get(key).source} (perioden: {', '.join(shown)})"
            for key, shown in periods.items()] + [
        "Wijkindeling en -grenzen: CBS Wijk- en buurtkaart, de nieuwste jaargang in de database."]


def _footer(report: Report) -> list[str]:
    return [f"Gemaakt op {report.made:%d-%m-%Y %H:%M} door {report.author} met het GKA Dashboard Gelijke Kansen.",
            f"Waarden op minder dan {config.suppression_threshold()} leerlingen zijn niet getoond, niet gekleurd en "
            "niet gebruikt; dat staat bij elke figuur.",
            *(["Schoolnamen zijn vervangen door pseudoniemen (School A, B, …)."] if report.pseudonyms else [])]


def _sized(chart: alt.Chart) -> alt.Chart:
    """A page-wide chart: on screen the charts take the container's width, which a file lacks."""
    return chart if isinstance(chart.width, int) else chart.properties(width=620)


HTML_STYLE = """
body { font-family: "Source Sans Pro", Arial, sans-serif; color: #111; max-width: 60rem; margin: 2rem auto;
       padding: 0 1.5rem; line-height: 1.45; }
h1 { font-size: 1.9rem; margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #111; padding-bottom: 0.2rem; }
.synthetic { background: #fff4cc; border: 2px solid #b38600; padding: 0.6rem 0.9rem; font-weight: 600; }
.highlight { border-left: 6px solid #0072b2; padding: 0.2rem 0.9rem; margin: 0.8rem 0; }
.figure { font-size: 1.3rem; font-weight: 700; } .muted { color: #444; font-size: 0.92rem; }
table { border-collapse: collapse; margin: 0.5rem 0; } td, th { border: 1px solid #999; padding: 0.2rem 0.5rem; }
svg { max-width: 100%; height: auto; } blockquote { white-space: pre-wrap; margin: 0.3rem 0 0 1rem; }
@media print { .highlight, figure { break-inside: avoid; } }
"""


def to_html(report: Report) -> str:
    e = html.escape
    parts = [f"<!doctype html><html lang='nl'><head><meta charset='utf-8'>"
             f"<title>Gesprek {e(report.name)} {report.made:%d-%m-%Y}</title><style>{HTML_STYLE}</style></head><body>",
             f"<h1>Verdiepend gesprek — {e(report.name)} ({e(report.gemeente)})</h1>",
             f"<p class='muted'>{report.made:%d-%m-%Y}</p>"]
    if report.synthetic:
        parts.append(f"<p class='synthetic'>{e(SYNTHETIC_LABEL)}</p>")
    parts.append("<h2>Wat valt op</h2>")
    for h in report.highlights.items:
        table = h.table.to_html(index=False, border=0) if h.table is not None else ""
        parts.append(f"<div class='highlight'><strong>{e(h.title)}</strong> — <span class='figure'>{e(h.figure)}"
                     f"</span><br>{e(h.text)}{table}</div>")
    parts += [f"<p class='muted'>{e(m)}</p>" for m in report.highlights.missing]
    for section in report.sections:
        svg = charts.image(_sized(section.chart), "svg").decode() if section.chart is not None else ""
        parts.append(f"<h2>{e(section.title)}</h2><figure>{svg}<figcaption class='muted'>{e(section.text)} "
                     f"{e(section.withheld)}</figcaption></figure>")
    parts.append("<h2>Notities bij de vier vragen</h2>")
    for number, question in enumerate(notes.QUESTIONS, start=1):
        entry = report.notes.get(number)
        body = (f"<blockquote>{e(entry.text)}</blockquote><p class='muted'>{e(entry.author)}, {formatting.moment(entry.at)}</p>"
                if entry else "<p class='muted'>Nog geen notitie.</p>")
        parts.append(f"<h3>{number}. {e(question)}</h3>{body}")
    if report.agreements:
        parts.append("<h2>Afspraken</h2>")
        for heading, lines in report.agreement_lines():
            parts.append(f"<div class='highlight'><strong>{e(heading)}</strong><br>"
                         + "<br>".join(e(line) for line in lines) + "</div>")
        parts.append(f"<p class='muted'>{e(agreements.CAVEAT)}</p>")
    parts.append("<h2>Bronnen en perioden</h2><ul>" + "".join(f"<li>{e(s)}</li>" for s in report.sources) + "</ul>")
    parts += [f"<p class='muted'>{e(line)}</p>" for line in _footer(report)]
    if report.synthetic:
        parts.append(f"<p class='synthetic'>{e(SYNTHETIC_LABEL)}</p>")
    return "".join(parts) + "</body></html>"


PDF_ROWS = 24  # wijken on an A4 page: 13-pixel labels stay about 9 pt


def pdf_problem() -> str:
    """Why a PDF cannot be made here, or nothing."""
    folder = config.pdf_font_dir()
    if (folder / "DejaVuSans.ttf").exists() and (folder / "DejaVuSans-Bold.ttf").exists():
        return ""
    return (f"Voor de PDF is het lettertype DejaVu Sans nodig in {folder} (Debian-pakket fonts-dejavu-core), "
            "of zet GKA_PDF_FONT_DIR. Het HTML-rapport werkt zonder.")


def to_pdf(report: Report) -> bytes:
    """The same content on A4, charts as PNG (fpdf2 draws SVG text unreliably)."""
    from fpdf import FPDF  # imported here: only the export needs it

    if pdf_problem():
        raise GkaError(pdf_problem())
    fonts = config.pdf_font_dir()
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_title(f"Verdiepend gesprek {report.name}")
    pdf.set_author(report.author)
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def text(value: str, size: float = 10.5, style: str = "", colour=(17, 17, 17), gap: float = 1.5):
        pdf.set_font("DejaVu", style, size)
        pdf.set_text_color(*colour)
        pdf.multi_cell(width, size * 0.5, value, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    def banner():
        pdf.set_fill_color(255, 244, 204)
        pdf.set_font("DejaVu", "B", 10.5)
        pdf.multi_cell(width, 6, SYNTHETIC_LABEL, border=1, fill=True, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    pdf.add_page()
    text(f"Verdiepend gesprek — {report.name} ({report.gemeente})", 18, "B")
    text(f"{report.made:%d-%m-%Y}", 10, colour=(68, 68, 68), gap=3)
    if report.synthetic:
        banner()
    def keep(height: float) -> None:
        """Start a new page when less than ``height`` mm is left, so a block of text begins
        where it can be read whole instead of leaving its last line alone on a page."""
        if pdf.h - pdf.b_margin - pdf.get_y() < height:
            pdf.add_page()

    text("Wat valt op", 14, "B")
    for h in report.highlights.items:
        keep(40 + (8 + 5 * len(h.table) if h.table is not None else 0))
        text(f"{h.title} — {h.figure}", 11, "B", gap=0.5)
        text(h.text, gap=1 if h.table is not None else 3)
        if h.table is not None:
            pdf.set_font("DejaVu", "", 8.5)
            with pdf.table(text_align="LEFT", line_height=4.5) as grid:
                for row in [list(h.table.columns), *h.table.astype(str).values.tolist()]:
                    grid.row(row)
            pdf.ln(3)
    for missing in report.highlights.missing:
        keep(15)
        text(missing, 9.5, colour=(68, 68, 68))
    def room() -> float:
        return pdf.h - pdf.b_margin - pdf.get_y()

    def aspect(png: bytes) -> float:
        width_px, height_px = charts.png_size(png)
        return height_px / width_px

    def chart(png: bytes, title: str) -> None:
        """A chart wholly on one page: on the next page (its title repeated) when it does not fit
        under what is already there, scaled down to the page when it is taller than a page."""
        ratio = aspect(png)
        if width * ratio > room() and pdf.get_y() > pdf.t_margin + 20:
            pdf.add_page()
            text(f"{title} (vervolg)", 12, "B")
        shown = min(width, room() / ratio)
        pdf.image(png, x=pdf.l_margin + (width - shown) / 2, w=shown, h=shown * ratio)
        pdf.ln(2)

    page = pdf.h - pdf.t_margin - pdf.b_margin
    for section in report.sections:
        images = [charts.image(_sized(part), "png") for part in section.pages(PDF_ROWS)]
        # The title goes where its first chart fits under it: never a title alone at a page's foot.
        needed = 14 + (width * aspect(images[0]) if images else 30)
        if room() < min(needed, page - 10):
            pdf.add_page()
        else:
            pdf.ln(6)
        text(section.title, 14, "B")
        for png in images:
            chart(png, section.title)
        text(" ".join(filter(None, [section.text, section.withheld])), 9.5, colour=(68, 68, 68))
    pdf.add_page()
    text("Notities bij de vier vragen", 14, "B")
    for number, question in enumerate(notes.QUESTIONS, start=1):
        entry = report.notes.get(number)
        text(f"{number}. {question}", 11.5, "B", gap=0.5)
        if entry:
            text(entry.text, gap=0.5)
            text(f"{entry.author}, {formatting.moment(entry.at)}", 9, colour=(68, 68, 68), gap=3)
        else:
            text("Nog geen notitie.", 9.5, colour=(68, 68, 68), gap=3)
    if report.agreements:
        text("Afspraken", 14, "B")
        for heading, lines in report.agreement_lines():
            keep(8 + 6 * len(lines))
            text(heading, 11.5, "B", gap=0.5)
            for line in lines:
                text(line, 10, gap=0.5)
            pdf.ln(2)
        text(agreements.CAVEAT, 9, colour=(68, 68, 68), gap=3)
    text("Bronnen en perioden", 14, "B")
    for line in report.sources:
        text("• " + line, 9.5)
    for line in _footer(report):
        text(line, 9, colour=(68, 68, 68))
    if report.synthetic:
        banner()
    return bytes(pdf.output())
