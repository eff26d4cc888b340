"""Charts for everyone (issue #16): every chart says what it shows to a screen reader, and its
text is at least 4,5:1 against the white page (WCAG 2.1 AA), also in presentation mode."""

import pytest

from gka_dash import analysis, charts, maps, queries, registry
from gka_dash.scope import Scope

EVERYTHING = Scope.everything()


def _luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance, written out from the definition."""
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, two: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_formula_gives_the_audits_figure():
    assert contrast("#808495", "#ffffff") == pytest.approx(3.72, abs=0.01)  # the grey the audit measured


def _charts(engine):
    ind = registry.get("afstroom_pct")
    change = analysis.wijk_change(engine, EVERYTHING, "GM9901", ind.key, "2014-2016", "2016-2018")
    refs = analysis.reference_means(engine, EVERYTHING, "GM9901", ind.key, ["2014-2016", "2016-2018"])
    pairs = analysis.school_pairs(engine, EVERYTHING, "GM9901", "apcg_pct", "toetsadvies_gem")
    schools = queries.schools(engine, EVERYTHING, "GM9901")
    toets = registry.get("toetsadvies_gem")
    groups = analysis.by_group(engine, EVERYTHING, "GM9901", "Veenhaven", "havo_vwo_17_pct")
    return {
        "dumbbell": charts.dumbbell(change.frame, ind, "2014-2016", "2016-2018", refs, "Veenhaven"),
        "scholen": charts.school_scatter(pairs.frame, schools, registry.get("apcg_pct"), toets, pairs.fit),
        "trechter": charts.funnel(pairs.frame, schools, toets, pairs.fit),
        "ouderopleiding": charts.group_lines(groups.frame, registry.get("havo_vwo_17_pct"), "Veenhaven"),
        "verloop": charts.trend_lines(queries.series(engine, EVERYTHING, "GM9901", ind.key), ind, "Veenhaven"),
        "kaart": charts.static_map(maps.change_map(change, ind, "2014-2016", "2016-2018")),
    }


def test_every_chart_describes_itself_and_its_text_reads_at_4_5_to_1(demo_engine):
    for name, chart in _charts(demo_engine).items():
        for shown in (chart, charts.for_projector(chart)):
            spec = shown.to_dict()
            assert len(spec.get("description", "")) > 40, name
            for part in ("axis", "legend"):
                for key in ("labelColor", "titleColor"):
                    colour = spec["config"].get(part, {}).get(key)
                    if part == "axis" and name == "kaart":
                        continue  # a map has no axes
                    assert colour and contrast(colour, "#ffffff") >= 4.5, (name, part, key, colour)
        projected = charts.for_projector(chart).to_dict()["config"]
        for part in ("axis", "legend"):  # the back of a meeting room: at least 16 px
            if part in projected:
                assert min(projected[part]["labelFontSize"], projected[part]["titleFontSize"]) >= 16, (name, part)


def test_points_are_read_out_in_dutch_without_raw_numbers_or_field_names(demo_engine):
    """Vega writes an aria-label per mark; with nothing said it reads the raw encoding
    ("value: 28.1581090694; where: Alle gemeenten"). Each point now carries its own sentence,
    and lines, bars and bands that repeat the points are left out of the reading."""
    import re
    for name, chart in _charts(demo_engine).items():
        if name == "kaart":
            continue
        svg = charts.image(chart, "svg").decode()
        labels = re.findall(r'aria-label="([^"]*)"', svg)
        points = [label for label in labels if "; " in label or ": " in label]
        assert points, name
        assert not [label for label in labels if re.search(r"\d\.\d{3,}", label)], name
        assert not [label for label in labels if re.search(r"\b(waarde|value|residual|where|period|punt): ", label)], name


def test_axes_and_legends_are_said_in_dutch_not_in_vegas_english(demo_engine):
    """Vega reads every axis and legend out in English ("X-axis titled 'Jaar' for a discrete
    scale …"); they are hidden from screen readers and said in Dutch in the chart's description."""
    import re
    for name, chart in _charts(demo_engine).items():
        svg = charts.image(chart, "svg").decode()
        english = [label for label in re.findall(r'aria-label="([^"]*)"', svg)
                   if re.match(r"(X-axis|Y-axis|Symbol legend|Gradient legend|Legend)", label)]
        assert english == [], name
        if name != "kaart":  # a map has no axes; its legend title is its description
            assert re.search(r"(Horizontale|Verticale) as: \S", chart.to_dict()["description"]), name


def _simulated(hex_colour: str):
    """The colour as seen with full deuteranomaly, protanomaly and tritanomaly (Machado 2009,
    colorspacious), and as is."""
    import numpy as np
    from colorspacious import cspace_convert
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return [rgb] + [np.clip(cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": cvd, "severity": 100}, "sRGB1"), 0, 1)
                    for cvd in ("deuteranomaly", "protanomaly", "tritanomaly")]


@pytest.mark.parametrize("palette", [
    [*maps.SEQUENTIAL, *maps.STATUS_COLOURS.values()],
    [*maps.DIVERGING, maps.WITHIN_MARGIN, *maps.STATUS_COLOURS.values()],
], ids=["niveau", "verandering"])
def test_every_map_colour_stays_distinct_for_colour_blind_readers(palette):
    """Every pair of colours one map can show, after simulating the three common colour-vision
    deficiencies, at least ΔE 10 apart in CAM02-UCS (a clearly visible difference)."""
    import itertools

    from colorspacious import deltaE
    closest = min(float(deltaE(x, y, input_space="sRGB1"))
                  for a, b in itertools.combinations(palette, 2) for x, y in zip(_simulated(a), _simulated(b)))
    assert closest >= 10, closest
