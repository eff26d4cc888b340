"""The gesprek as a PowerPoint deck (issue #16): read back with python-pptx, rendered to PNG by
LibreOffice where it is installed, and holding nothing the screen would not show."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pptx import Presentation
from sqlalchemy import select

from gka_dash import charts
from gka_dash.exports import report, slides
from gka_dash.gesprek import notes
from gka_dash.schema import school
from gka_dash.scope import Scope

from .conftest import PLANTED
from .test_views import leaks

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VEENHAVEN = Scope.of("GM9901")


def _deck(engine, **kwargs):
    made = report.build(engine, VEENHAVEN, "GM9901", "Veenhaven", views=list(report.VIEWS), author="Demo", **kwargs)
    return made, slides.to_pptx(made)


def _texts(slide) -> list[str]:
    return [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]


def everything_in(data: bytes) -> str:
    deck = Presentation(io.BytesIO(data))
    return "\n".join(t for s in deck.slides for t in [*_texts(s), s.notes_slide.notes_text_frame.text])


def _chart_shapes(slide):
    return [shape for shape in slide.shapes if shape.shape_type == 13 or getattr(shape, "has_chart", False)]


def test_deck_has_a_slide_per_highlight_and_view_with_numbers_and_margins_in_the_notes(demo_engine):
    notes.save(demo_engine, VEENHAVEN, "GM9901", 4, "Wijkteam, vo-scholen en de leerplichtambtenaar.", "veenhaven")
    made, data = _deck(demo_engine)
    deck = Presentation(io.BytesIO(data))
    titles = [_texts(s)[0] for s in deck.slides]
    views = [t for t in titles[1 + len(made.highlights.items):-2]]
    assert titles[:1 + len(made.highlights.items)] == ["Verdiepend gesprek Veenhaven", *(h.title for h in made.highlights.items)]
    assert titles[-2:] == ["De vier vragen", "Bronnen"]
    assert [t.rsplit(" (", 1)[0] if t.endswith("/2)") else t for t in views] == \
        [s.title for s in made.sections for _ in range(2 if s.split else 1)]  # Veenhaven's 22 wijken: 2 slides
    for slide, h in zip(list(deck.slides)[1:], made.highlights.items):
        spoken = slide.notes_slide.notes_text_frame.text
        assert h.text in spoken and f"Cijfer: {h.figure}" in spoken
        assert h.figure.partition(" (")[0] in _texts(slide)  # the key number large, on its own
    margins = [h for h in made.highlights.items if "marge" in h.figure]
    assert margins  # the afstroom, schooladvies, school and gap figures carry theirs
    for slide in list(deck.slides)[1 + len(made.highlights.items):-2]:
        assert len(_chart_shapes(slide)) == 1, _texts(slide)[0]
        assert "Perioden: " in slide.notes_slide.notes_text_frame.text
    assert all(charts.SYNTHETIC_MARK in _texts(s) for s in deck.slides)
    assert "Wijkteam, vo-scholen en de leerplichtambtenaar." in "\n".join(_texts(deck.slides[-2]))


def test_each_chart_fills_most_of_its_slide_with_projector_sized_text(demo_engine, monkeypatch):
    """At least 60 % of the slide's area, and no text under 18 pt: in the text boxes, in the
    native charts, and inside the pictures at the size they are shown."""
    smallest = []
    picture = slides._picture
    monkeypatch.setattr(slides, "_picture", lambda *a, **k: smallest.append(picture(*a, **k)) or smallest[-1])
    made = report.build(demo_engine, Scope.everything(), "GM9905", "Grootzeestad", views=list(report.VIEWS),
                        author="Demo")
    deck = Presentation(io.BytesIO(slides.to_pptx(made)))
    area = deck.slide_width * deck.slide_height
    natives = 0
    for slide in list(deck.slides)[1 + len(made.highlights.items):-2]:
        (shape,) = _chart_shapes(slide)
        assert shape.width * shape.height >= 0.6 * area, (_texts(slide)[0], shape.width * shape.height / area)
        if getattr(shape, "has_chart", False):
            natives += 1
            assert shape.chart.font.size.pt >= 18
    assert natives == 2  # the scatter and the lines: charts staff can restyle
    assert smallest and min(smallest) >= 18, smallest
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                sizes = [run.font.size.pt for p in shape.text_frame.paragraphs for run in p.runs if run.font.size]
                assert min(sizes, default=18) >= 18, (_texts(slide)[0], shape.text_frame.text[:60], sizes)


def test_deck_with_pseudonyms_names_no_school(demo_engine):
    with demo_engine.connect() as conn:
        names = conn.execute(select(school.c.name, school.c.id).where(school.c.gemeente_code == "GM9901")).all()
    _, data = _deck(demo_engine, pseudonyms=True)
    text = everything_in(data)
    assert "School " in text
    assert not [n for n, i in names if n in text or i in text]


def test_deck_holds_no_planted_small_cell(demo_engine):
    text = everything_in(_deck(demo_engine)[1])
    for _, _, _, _, value, decimals, _ in PLANTED:
        assert not leaks(value, decimals, text), value


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (Debian libreoffice-impress) not installed")
def test_deck_renders_to_png_slides(demo_engine, tmp_path):
    """LibreOffice turns the deck into a PDF, pdftoppm into PNGs in tests/artifacts, to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    made, data = _deck(demo_engine)
    path = tmp_path / "gesprek.pptx"
    path.write_bytes(data)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(path)], check=True, capture_output=True, timeout=600)
    for old in ARTIFACTS.glob("dia-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(tmp_path / "gesprek.pdf"), str(ARTIFACTS / "dia")], check=True)
    assert len(list(ARTIFACTS.glob("dia-*.png"))) == len(Presentation(io.BytesIO(data)).slides)
    deck = Presentation(io.BytesIO(data))
    first_view = 1 + len(made.highlights.items)
    for number in range(first_view + 1, len(deck.slides) - 1):  # the view slides, as LibreOffice drew them
        pixels = np.asarray(Image.open(ARTIFACTS / f"dia-{number:02d}.png").convert("L"))
        band = pixels[int(pixels.shape[0] * 0.2):int(pixels.shape[0] * 0.85)]
        drawn = np.flatnonzero((band < 200).any(axis=0))
        assert drawn.size and (drawn[-1] - drawn[0]) / pixels.shape[1] > 0.6, number  # the chart spans the slide
