"""The conversation report as a PowerPoint deck (python-pptx): municipal staff take the gesprek
into their own slides, and took screenshots until now.

One slide per highlight (the number large, the sentence beside it) and per chosen view (the
chart as an image), the four questions with their notes, and the sources. The speaker notes
carry what a presenter is asked about: the numbers with their margins, periods and sources.
Built from the same :class:`report.Report` as the HTML and PDF, so it holds nothing the screen
would not show; on demo data every slide says it is synthetic.
"""

from __future__ import annotations

import io

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from . import charts, notes, registry
from .report import SYNTHETIC_LABEL, Report, _footer, _sized

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)  # 16:9
MARGIN = Inches(0.6)
INK, MUTED, ACCENT, WARNING = RGBColor(0x1F, 0x2A, 0x36), RGBColor(0x44, 0x44, 0x44), RGBColor(0x00, 0x5A, 0x8C), \
    RGBColor(0x8A, 0x4B, 0x00)
BLANK = 6  # the blank layout of the default template


def _text(slide, text: str, left, top, width, height, *, size: int, bold: bool = False, colour=INK):
    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    for i, line in enumerate(text.split("\n")):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = line
        run.font.size, run.font.bold, run.font.color.rgb = Pt(size), bold, colour
    return box


def _slide(deck, report: Report, title: str, speaker_notes: str):
    """A blank slide with its title, the synthetic label on demo data, and speaker notes."""
    slide = deck.slides.add_slide(deck.slide_layouts[BLANK])
    _text(slide, title, MARGIN, Inches(0.3), WIDTH - 2 * MARGIN, Inches(1.0), size=26 if len(title) < 60 else 22,
          bold=True)
    if report.synthetic:
        _text(slide, SYNTHETIC_LABEL, MARGIN, HEIGHT - Inches(0.55), WIDTH - 2 * MARGIN, Inches(0.4), size=12,
              bold=True, colour=WARNING)
    slide.notes_slide.notes_text_frame.text = speaker_notes
    return slide


def _sources_of(report: Report, keys) -> str:
    labels = {registry.get(k).label for k in keys if k}
    return "\n".join(line for line in report.sources if line.split(":")[0] in labels)


def to_pptx(report: Report) -> bytes:
    deck = Presentation()
    deck.slide_width, deck.slide_height = WIDTH, HEIGHT
    body = WIDTH - 2 * MARGIN

    first = _slide(deck, report, f"Verdiepend gesprek {report.name}",
                   f"Gemaakt op {report.made:%d-%m-%Y %H:%M} door {report.author}. " + " ".join(_footer(report)[1:]))
    _text(first, f"Gelijke Kansen Alliantie · {report.made:%d-%m-%Y}\nWat gebeurt er? Hoe verklaren we dit? "
                 "Wat kunnen we doen? Wie hebben we daarvoor nodig?",
          MARGIN, Inches(1.6), body, Inches(2), size=20, colour=MUTED)

    for h in report.highlights.items:
        keys = (h.params.get("indicator"), h.params.get("x"))
        slide = _slide(deck, report, h.title, "\n".join(filter(None, [
            h.text, f"Cijfer: {h.figure}", _sources_of(report, keys),
            "Marges: 95 %-intervallen; een verandering heet gestegen of gedaald alleen buiten de marge."])))
        _text(slide, h.text, MARGIN, Inches(1.6), Inches(7.4), Inches(4.5), size=20)
        _text(slide, h.number, Inches(8.4), Inches(1.8), Inches(4.3), Inches(1.4), size=40, bold=True, colour=ACCENT)
        if h.detail:
            _text(slide, h.detail, Inches(8.4), Inches(3.3), Inches(4.3), Inches(1.2), size=16, colour=MUTED)

    for section in report.sections:
        slide = _slide(deck, report, section.title, "\n".join(filter(None, [
            section.text, section.withheld, f"Perioden: {', '.join(section.periods)}",
            _sources_of(report, section.indicators)])))
        if section.chart is not None:
            image = charts.image(charts.for_projector(_sized(section.chart)), "png")
            picture = slide.shapes.add_picture(io.BytesIO(image), MARGIN, Inches(1.45), height=Inches(4.4))
            if picture.width > body:  # keep the chart's proportions inside the slide
                picture.height = Emu(int(picture.height * body / picture.width))
                picture.width = body
        _text(slide, section.text, MARGIN, Inches(5.95), body, Inches(0.9), size=12, colour=MUTED)

    questions = _slide(deck, report, "De vier vragen", "Notities uit het dashboard, laatste versie per vraag.")
    lines = []
    for number, question in enumerate(notes.QUESTIONS, start=1):
        entry = report.notes.get(number)
        lines += [f"{number}. {question}", f"    {entry.text if entry else '(nog geen notitie)'}"]
    _text(questions, "\n".join(lines), MARGIN, Inches(1.4), body, Inches(5.2), size=18)

    closing = _slide(deck, report, "Bronnen", "\n".join(report.sources))
    _text(closing, "\n".join([*report.sources, "", *_footer(report)]), MARGIN, Inches(1.4), body, Inches(5.2), size=12)

    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()
