"""Indicator logic and map classes, checked against independent computations."""

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from statsmodels.stats.proportion import confint_proportions_2indep

from gka_dash import analysis, maps
from gka_dash.schema import observation


def _shown(engine, key):
    with engine.connect() as conn:
        rows = conn.execute(select(observation.c.subject, observation.c.period, observation.c.value,
                                   observation.c.n).where(observation.c.indicator_key == key)).all()
    frame = pd.DataFrame(rows, columns=["subject", "period", "value", "n"])
    return frame[frame["n"] >= 10]


def test_expected_line_is_the_pupil_weighted_least_squares_fit_over_all_gemeenten(demo_engine):
    """y = a + b(x-c) + q(x-c)² + year effect, weighted by the outcome's pupils, solved here by
    the normal equations; the year effects average to zero and a is the average year's level."""
    pairs = _shown(demo_engine, "apcg_pct").merge(_shown(demo_engine, "toetsadvies_gem"), on=["subject", "period"])
    weights = pairs["n_y"].to_numpy(float)
    centre = np.average(pairs["value_x"], weights=weights)
    x = pairs["value_x"].to_numpy(float) - centre
    years = sorted(pairs["period"].unique())
    design = np.column_stack([np.ones(len(pairs)), x, x ** 2] + [(pairs["period"] == y).to_numpy(float) for y in years[1:]])
    solution = np.linalg.solve(design.T @ (design * weights[:, None]), design.T @ (weights * pairs["value_y"]))
    effects = np.array([0.0, *solution[3:]])
    fit = analysis.expected_line(demo_engine, "apcg_pct", "toetsadvies_gem")
    assert fit.points == len(pairs) and fit.centre == pytest.approx(centre)
    assert fit.slope == pytest.approx(solution[1]) and fit.curvature == pytest.approx(solution[2], abs=1e-9)
    assert fit.intercept == pytest.approx(solution[0] + effects.mean())
    assert [e for _, e in fit.years] == pytest.approx(list(effects - effects.mean()))
    assert fit.slope < 0  # the demo mimics the real relation: more APCG pupils, lower advice


def test_level_classes_cover_every_value_in_order():
    values = [3.17, 8.2, 12.94, 19.46, 0.52, 5.5, 7.1, 10.0, 15.2, 2.2]
    classes = maps.level_classes(values)
    assert len(classes.colours) == len(classes.edges) - 1 == 5
    assert classes.edges[0] <= min(values) and classes.edges[-1] >= max(values)
    assert [maps.colour_of(v, classes) for v in sorted(values)] == sorted(
        [maps.colour_of(v, classes) for v in values], key=maps.SEQUENTIAL.index)


def test_level_classes_of_skewed_counts_spread_the_wijken_over_the_classes():
    """Inhabitants per wijk: many small, a few large. Equal steps put 90 % in one class."""
    values = [1200, 1500, 1800, 2100, 2500, 3000, 3400, 4100, 5200, 6000, 7800, 9500, 14000, 31000, 52000]
    classes = maps.level_classes(values)
    used = pd.Series([maps.colour_of(v, classes) for v in values]).value_counts()
    assert len(used) == 5 and used.max() <= 4
    assert all(float(f"{edge:.2g}") == edge for edge in classes.edges)  # two significant digits


def test_level_classes_of_few_distinct_values_merge_empty_classes():
    classes = maps.level_classes([1, 1, 1, 3, 3])
    assert len(classes.colours) == len(classes.edges) - 1 >= 2
    assert maps.colour_of(1, classes) != maps.colour_of(3, classes)


@pytest.mark.parametrize("higher_is_better, worse", [(False, 2.5), (True, -2.5), (None, 2.5)])
def test_change_classes_put_the_worse_direction_in_orange(higher_is_better, worse):
    classes = maps.change_classes([-2.5, -0.3, 0.4, 2.5], higher_is_better)
    assert classes.edges[3] == 0 and classes.edges[0] == -classes.edges[-1]
    assert maps.colour_of(worse, classes) == "#b35806"
    assert maps.colour_of(-worse, classes) == "#542788"


def test_gap_text_uses_the_latest_year_with_both_groups_and_says_why():
    frame = pd.DataFrame([
        ("Ergens", "2016", "laag", 30.0, 100), ("Ergens", "2016", "hoog", 80.0, 100),
        ("Ergens", "2017", "hoog", 82.0, 100),  # laag 2017 withheld
        (analysis.ALL_GEMEENTEN, "2016", "laag", 25.0, 900), (analysis.ALL_GEMEENTEN, "2016", "hoog", 79.0, 900),
    ], columns=["where", "period", "group", "value", "n"])
    text = analysis.gap_text(analysis.GroupValues(frame, 1), "Ergens")
    margin = confint_proportions_2indep(80, 100, 30, 100, compare="diff", method="score")
    assert text.startswith("In 2016 zat in Ergens 80,0 %")
    assert f"een verschil van 50,0 procentpunt (marge ±{(margin[1] - margin[0]) * 50:.1f})".replace(".", ",") in text
    # 50 against 54 on 100 pupils per group is within the margin: no "kleiner dan".
    assert "ongeveer even groot als in alle gemeenten samen (54,0 procentpunt)" in text
    assert text.endswith("Voor 2017 is een van de groepen te klein om te tonen.")
    big = frame.assign(n=frame["n"] * 50)
    assert "kleiner dan in alle gemeenten samen (54,0 procentpunt)" in analysis.gap_text(
        analysis.GroupValues(big, 1), "Ergens")
