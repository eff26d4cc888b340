"""The conversation report as a PowerPoint deck (python-pptx), for a projector: municipal staff
take the gesprek into their own slides, and took screenshots until now.

16:9, one message per slide: each highlight with its number large; each view with its chart
filling most of the slide (``CHART_BOX``, 70 % of its area) and no text smaller than 18 pt at
that size. The scatter and the lines are native PowerPoint charts (staff restyle them in their
own template); the wijk list and the map are pictures drawn at the slide's size, the list cut
into slides of ``SLIDE_ROWS`` wijken each with its axis. The speaker notes carry what a
presenter is asked about: the numbers with their margins, periods and sources. Built from the
same :class:`report.Report` as the HTML and PDF, so it holds nothing the screen would not show;
on demo data every slide says it is synthetic.
"""

from __future__ import annotations

import io
import math

import altair as alt
from pptx import Presentation
from pptx.chart.data import CategoryChartData, XyChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION, XL_MARKER_STYLE
from pptx.enum.dml import MSO_LINE_DASH_STYLE
from pptx.util import Emu, Inches, Pt

from .. import charts, formatting, registry, series
from ..gesprek import agreements, notes
from .report import Report, Section, _footer

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)  # 16:9
MARGIN = Inches(0.4)
CHART_BOX = (MARGIN, Inches(1.15), WIDTH - 2 * MARGIN, Inches(5.6))  # 12,53 × 5,6 inch: 70 % of the slide
SLIDE_ROWS = 12  # wijken on one slide: a label of 22 px stays 20 pt on the projector
MIN_PT = 18
PICTURE_PX = 1240  # a picture's width as drawn: 22-pixel text on a 12,5-inch slide is 20 pt
INK, MUTED, ACCENT, WARNING = RGBColor(0x1F, 0x2A, 0x36), RGBColor(0x33, 0x33, 0x33), RGBColor(0x00, 0x5A, 0x8C), \
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
    _text(slide, title, MARGIN, Inches(0.25), WIDTH - 2 * MARGIN, Inches(0.85),
          size=30 if len(title) <= 42 else 26 if len(title) <= 52 else 22, bold=True)
    if report.synthetic:
        _text(slide, charts.SYNTHETIC_MARK, MARGIN, HEIGHT - Inches(0.62), WIDTH - 2 * MARGIN, Inches(0.45),
              size=MIN_PT, bold=True, colour=WARNING)
    slide.notes_slide.notes_text_frame.text = speaker_notes
    return slide


def _sources_of(report: Report, keys) -> str:
    labels = {registry.get(k).label for k in keys if k}
    return "\n".join(line for line in report.sources if line.split(":")[0] in labels)


def _rgb(colour: str) -> RGBColor:
    return RGBColor.from_string(colour.lstrip("#").upper())


def _native(slide, plot: series.Plot) -> None:
    """A native chart in the chart box: 18-point text, the legend on top, lines and markers in
    the dashboard's colours, the gemeente solid and the reference dashed."""
    if plot.kind == "xy":
        data = XyChartData()
        for found in plot.series:
            part = data.add_series(found.name)
            for x, y in found.points:
                part.add_data_point(float(x), float(y))
        kind = XL_CHART_TYPE.XY_SCATTER
    else:
        categories = sorted({x for found in plot.series for x, _ in found.points})
        data = CategoryChartData()
        data.categories = categories
        for found in plot.series:
            values = dict(found.points)
            data.add_series(found.name, [None if values.get(c) is None else float(values[c]) for c in categories])
        kind = XL_CHART_TYPE.LINE_MARKERS
    chart = slide.shapes.add_chart(kind, *CHART_BOX, data).chart
    chart.font.size = Pt(MIN_PT)
    chart.font.color.rgb = INK
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.TOP
    chart.legend.include_in_layout = False
    for axis, title in ((chart.category_axis, plot.x_title), (chart.value_axis, plot.y_title)):
        axis.has_title = True
        axis.axis_title.text_frame.text = title
        axis.axis_title.text_frame.paragraphs[0].runs[0].font.size = Pt(MIN_PT)
    chart.value_axis.has_major_gridlines = True
    chart.value_axis.tick_labels.number_format = "0" if plot.decimals == 0 else "0." + "0" * min(plot.decimals, 1)
    chart.value_axis.tick_labels.number_format_is_linked = False
    if plot.y_range is not None:
        chart.value_axis.minimum_scale, chart.value_axis.maximum_scale = plot.y_range
    if plot.x_range is not None:
        chart.category_axis.minimum_scale, chart.category_axis.maximum_scale = plot.x_range
    for drawn, found in zip(chart.series, plot.series):
        line = drawn.format.line
        if found.line:
            line.color.rgb = _rgb(found.colour)
            line.width = Pt(3.5)
            if found.dashed:
                line.dash_style = MSO_LINE_DASH_STYLE.DASH
        else:
            line.fill.background()
        drawn.smooth = False
        if found.markers:
            drawn.marker.style = XL_MARKER_STYLE.CIRCLE
            drawn.marker.size = 7 if plot.kind == "xy" else 10
            drawn.marker.format.fill.solid()
            drawn.marker.format.fill.fore_color.rgb = _rgb(found.colour)
            drawn.marker.format.line.color.rgb = _rgb(found.colour)
        else:
            drawn.marker.style = XL_MARKER_STYLE.NONE


def _font_sizes(spec) -> list[float]:
    """Every font size a Vega-Lite spec sets (axes, legends, text marks)."""
    if isinstance(spec, dict):
        return [v for k, v in spec.items() if k.lower().endswith("fontsize") and isinstance(v, (int, float))] + \
            [size for v in spec.values() for size in _font_sizes(v)]
    if isinstance(spec, list):
        return [size for v in spec for size in _font_sizes(v)]
    return []


def _picture(slide, chart: alt.Chart, size: int = 22) -> float:
    """A chart drawn as a picture as large as the chart box allows, centred in it, with text of
    at least ``MIN_PT`` on the slide: drawn with ``size``-pixel type, and redrawn larger when
    the picture had to shrink to fit. Returns the point size of its smallest text."""
    for _ in range(3):
        projected = charts.for_projector(chart, size=size, taller=False)  # sized for the slide
        png = charts.image(projected, "png")
        width_px, height_px = charts.png_size(png)
        pixels_wide, aspect = width_px / charts.PNG_SCALE, height_px / width_px
        left, top, width, height = CHART_BOX
        shown_width = min(width, int(height / aspect))
        smallest = min(_font_sizes(projected.to_dict(validate=False))) * Emu(shown_width).pt / pixels_wide
        if smallest >= MIN_PT:
            break
        size = math.ceil(size * MIN_PT / smallest) + 1
    shown_height = int(shown_width * aspect)
    slide.shapes.add_picture(io.BytesIO(png), Emu(left + (width - shown_width) // 2),
                             Emu(top + (height - shown_height) // 2), Emu(shown_width), Emu(shown_height))
    return smallest


def _view_slides(deck, report: Report, section: Section) -> None:
    spoken = "\n".join(filter(None, [section.text, section.withheld, f"Perioden: {', '.join(section.periods)}",
                                     _sources_of(report, section.indicators)]))
    if section.native is not None:
        _native(_slide(deck, report, section.title, spoken), section.native)
        return
    if section.slide is not None:
        _picture(_slide(deck, report, section.title, spoken), section.slide(), size=26)
        return
    parts = section.pages(SLIDE_ROWS)
    for number, part in enumerate(parts, start=1):
        title = section.title + (f" ({number}/{len(parts)})" if len(parts) > 1 else "")
        # As wide as the chart box and as high as its shape allows: 12 wijken fill the slide.
        sized = part.properties(width=PICTURE_PX - 300, height=int(PICTURE_PX * CHART_BOX[3] / CHART_BOX[2]) - 150)
        _picture(_slide(deck, report, title, spoken), sized)


def _follow_up_slide(deck, report: Report, entry: agreements.Agreement, follow: agreements.FollowUp) -> None:
    """The followed figure in every period with its margin, the baseline marked; the speaker
    notes read each period's figure and interval aloud, and the warning that a change is not
    the afspraak's effect."""
    ind = registry.get(entry.indicator)
    spoken = [f"{p}: {formatting.value(v, ind.unit)} (95 %: {formatting.interval(lo, hi, ind.unit)})"
              for p, v, lo, hi in follow.frame[["period", "value", "low", "high"]].itertuples(index=False)]
    slide = _slide(deck, report, f"{ind.label} in {entry.subject_name} sinds de afspraak",
                   "\n".join([follow.sentence, *spoken, agreements.CAVEAT, _sources_of(report, [entry.indicator])]))
    _native(slide, series.follow_up(follow.frame, ind, entry.baseline_period))


def to_pptx(report: Report) -> bytes:
    deck = Presentation()
    deck.slide_width, deck.slide_height = WIDTH, HEIGHT
    body = WIDTH - 2 * MARGIN

    first = _slide(deck, report, f"Verdiepend gesprek {report.name}",
                   f"Gemaakt op {report.made:%d-%m-%Y %H:%M} door {report.author}. " + " ".join(_footer(report)[1:]))
    _text(first, f"Gelijke Kansen Alliantie · {report.made:%d-%m-%Y}", MARGIN, Inches(1.5), body, Inches(0.8),
          size=24, colour=MUTED)
    _text(first, "Wat gebeurt er?\nHoe verklaren we dit?\nWat kunnen we doen?\nWie hebben we daarvoor nodig?",
          MARGIN, Inches(2.5), body, Inches(3.5), size=28)

    for h in report.highlights.items:
        keys = (h.params.get("indicator"), h.params.get("x"))
        slide = _slide(deck, report, h.title, "\n".join(filter(None, [
            h.text, f"Cijfer: {h.figure}", _sources_of(report, keys),
            "Marges: 95 %-intervallen; een verandering heet gestegen of gedaald alleen buiten de marge."])))
        _text(slide, h.number, MARGIN, Inches(1.4), body, Inches(1.3), size=60 if len(h.number) <= 20 else 40,
              bold=True, colour=ACCENT)
        if h.detail:
            _text(slide, h.detail, MARGIN, Inches(2.75), body, Inches(0.8), size=22, colour=MUTED)
        _text(slide, h.text, MARGIN, Inches(3.7), body, Inches(2.9), size=20)

    for section in report.sections:
        _view_slides(deck, report, section)

    questions = _slide(deck, report, "De vier vragen", "Notities uit het dashboard, laatste versie per vraag.")
    lines = []
    for number, question in enumerate(notes.QUESTIONS, start=1):
        entry = report.notes.get(number)
        lines += [f"{number}. {question}", f"    {entry.text if entry else '(nog geen notitie)'}"]
    _text(questions, "\n".join(lines), MARGIN, Inches(1.3), body, Inches(5.3), size=MIN_PT + 2)

    # The samenwerkingsagenda: each afspraak on a slide, and its figure's course since on the next.
    for (heading, lines), (entry, follow) in zip(report.agreement_lines(), report.agreements):
        slide = _slide(deck, report, f"Afspraak: {heading}", "\n".join([*lines, agreements.CAVEAT]))
        _text(slide, "\n".join(lines), MARGIN, Inches(1.4), body, Inches(5.0), size=MIN_PT + 4)
        if len(follow.series) > 1:
            _follow_up_slide(deck, report, entry, follow)

    closing = _slide(deck, report, "Bronnen", "\n".join([*report.sources, *_footer(report)]))
    _text(closing, "\n".join(report.sources), MARGIN, Inches(1.3), body, Inches(5.3), size=MIN_PT)

    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()
