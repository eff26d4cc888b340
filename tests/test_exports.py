"""Every file the dashboard makes, opened and looked at as a person would: chart images from the
pages' own download buttons, the PDF's pages rendered by poppler, the slides rendered by
LibreOffice. A file that exists is not a file that works (issue #24)."""

from __future__ import annotations

import io
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gka_dash import charts
from gka_dash.exports import report
from gka_dash.scope import Scope

from .test_views import open_page

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARTIFACTS.mkdir(exist_ok=True)

SVG = "{http://www.w3.org/2000/svg}"
GROOTZEESTAD = "GM9905"
CHART_PAGES = {  # page → the names of its chart files, and what each image must name
    "pages/overzicht.py": (("verloop-",), "Verloop"),
    "pages/afstroom.py": (("afstroom_pct-",), "per wijk"),
    "pages/scholen.py": (("scholen-", "trechter-"), "oetsadvies"),
    "pages/ouderopleiding.py": (("ouderopleiding-",), "opleiding van de ouders"),
}


def _texts(svg: ET.Element, role: str) -> list[list[str]]:
    """The texts of every group of this Vega role (one list per axis, legend, title…)."""
    return [[line for t in group.iter(f"{SVG}text") for line in ([t.text] if t.text else
                                                                    [x.text or "" for x in t.iter(f"{SVG}tspan")])]
            for group in svg.iter(f"{SVG}g") if f"role-{role}" in group.get("class", "")]


def _ink_columns(png: bytes) -> float:
    """The share of the image's width over which the plot draws, judged below the title and the
    legend (the lower 65 % of the image) by pixels darker than the gridlines: a plot squeezed
    into the left sixth of the image under a full-width legend gives about 0,15."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(int)
    lower = pixels[int(pixels.shape[0] * 0.35):]
    columns = np.flatnonzero((lower < 200).any(axis=0))
    return 0.0 if columns.size == 0 else (columns[-1] - columns[0]) / pixels.shape[1]


@pytest.fixture
def chart_files(demo_engine, downloads):
    files = {}
    for page in CHART_PAGES:
        downloads.clear()
        at = open_page(page, "grootzeestad", gemeente=GROOTZEESTAD)
        assert not at.exception, at.exception
        stems = CHART_PAGES[page][0]  # the login drew Overzicht's buttons first
        files[page] = {name: data for name, data in downloads
                       if name.endswith((".png", ".svg")) and name.startswith(stems)}
        for name, data in files[page].items():  # kept to be looked at
            (ARTIFACTS / name).write_bytes(data)
    return files


def test_every_chart_image_says_what_where_when_and_whence_and_uses_its_width(chart_files):
    for page, (_, title) in CHART_PAGES.items():
        files = chart_files[page]
        svgs = [ET.fromstring(data) for name, data in files.items() if name.endswith(".svg")]
        pngs = [data for name, data in files.items() if name.endswith(".png")]
        assert svgs and len(svgs) == len(pngs), (page, list(files))
        for svg in svgs:
            heading = [t for group in _texts(svg, "title-text") + _texts(svg, "title-subtitle") for t in group]
            said = " ".join(heading)
            assert title in said and "Grootzeestad" in said and "Bron: " in said, (page, heading)
            assert "SYNTHETISCH" in said, page
            assert re.search(r"\d{4}", said), (page, heading)  # the period
            for symbol in (p for g in svg.iter(f"{SVG}g") if "role-legend-symbol" in g.get("class", "")
                           for p in g.iter(f"{SVG}path")):  # each legend entry shows its mark
                line = re.fullmatch(r"M[-\d.,]+L[-\d.,]+", symbol.get("d", ""))  # a line has no area to fill
                filled = symbol.get("fill") not in (None, "none", "transparent") and not line
                stroked = symbol.get("stroke") not in (None, "none", "transparent") and \
                    float(symbol.get("stroke-width", 1)) > 0
                assert (filled or stroked) and symbol.get("opacity") != "0", (page, symbol.attrib)
            for axis in _texts(svg, "axis-label"):
                assert len(axis) == len(set(axis)), (page, axis)  # no 12, 12, 11, 11
        for png in pngs:
            width, height = Image.open(io.BytesIO(png)).size
            assert 0.4 <= width / height <= 2.6 or page == "pages/afstroom.py", (page, width, height)
            assert _ink_columns(png) > 0.6, (page, _ink_columns(png))


def test_the_afstroom_image_draws_every_mark_its_legend_lists(chart_files):
    svg = next(ET.fromstring(d) for n, d in chart_files["pages/afstroom.py"].items() if n.endswith(".svg"))
    legend = [t for group in _texts(svg, "legend-label") for t in group]
    assert {"2014-2016", "2016-2018", "Grootzeestad", "Alle gemeenten"} <= set(legend), legend
    marks = [g for g in svg.iter(f"{SVG}g") if "role-mark" in g.get("class", "")]
    fills = {p.get("fill", "").upper() for g in marks if "mark-symbol" in g.get("class") for p in g.iter(f"{SVG}path")}
    assert {charts.OKABE_ITO[0], charts.OKABE_ITO[1]} <= fills, fills  # the dots of both periods
    strokes = {p.get("stroke", "").upper() for g in marks if "mark-rule" in g.get("class") for p in g.iter(f"{SVG}line")}
    assert {charts.OKABE_ITO[0], charts.OKABE_ITO[1]} <= strokes, strokes  # the intervals of both periods
    dashed = [p for g in marks if "mark-rule" in g.get("class") for p in g.iter(f"{SVG}line")
              if p.get("stroke-dasharray")]
    assert len(dashed) >= 1  # the average of all gemeenten; the gemeente's is the solid rule


def _grootzeestad_report(engine, **kwargs):
    return report.build(engine, Scope.everything(), GROOTZEESTAD, "Grootzeestad", views=list(report.VIEWS),
                        author="Demo", **kwargs)


def test_the_pdf_keeps_every_chart_whole_on_a_page_with_its_axis(demo_engine, tmp_path):
    """Grootzeestad's 44 wijken do not fit one page: the afstroom chart continues on the next
    with its axis and legend repeated; no chart runs into the bottom margin, no page holds only
    a title or a stray line."""
    made = _grootzeestad_report(demo_engine)
    path = tmp_path / "rapport.pdf"
    path.write_bytes(report.to_pdf(made))
    listed = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    images = [line.split() for line in listed.splitlines()[2:] if line.strip()]
    parts = [part for section in made.sections for part in section.pages(report.PDF_ROWS)]
    afstroom = made.sections[0].pages(report.PDF_ROWS)
    assert len(afstroom) == 2 and len(images) >= len(parts), (len(afstroom), len(images), len(parts))
    for old in ARTIFACTS.glob("rapport-grootzeestad-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(ARTIFACTS / "rapport-grootzeestad")], check=True)
    pages = sorted(ARTIFACTS.glob("rapport-grootzeestad-*.png"))
    with_image = {int(row[0]) for row in images}
    for number, png in enumerate(pages, start=1):
        pixels = np.asarray(Image.open(png).convert("L"))
        margin = int(pixels.shape[0] * 12 / 297)  # the lowest 12 mm of the A4 page
        assert (pixels[-margin:] > 200).all(), f"page {number}: something runs into the bottom margin"
        words = subprocess.run(["pdftotext", "-f", str(number), "-l", str(number), str(path), "-"],
                               capture_output=True, text=True, check=True).stdout.split()
        assert number in with_image or len(words) > 60, f"page {number} holds only: {' '.join(words)}"
    for part in afstroom:  # each page of the list carries its own value axis and legend
        svg = ET.fromstring(charts.image(report._sized(part), "svg"))
        assert any("Afstroom" in t for group in _texts(svg, "axis-title") for t in group)
        assert {"2014-2016", "2016-2018"} <= {t for group in _texts(svg, "legend-label") for t in group}
