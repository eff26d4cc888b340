"""Numbers the Dutch way everywhere (issue #13) and text from files kept inert (issue #14):
formulas neutralised in CSV, Markdown in names shown as text."""

import io
import re

import altair as alt
import pandas as pd
import pytest

from gka_dash import charts, formatting, tables
from gka_dash.ui.chrome import plain


@pytest.mark.parametrize("value, decimals, text", [(32080, 0, "32.080"), (4.9, 1, "4,9"), (-1234.5, 1, "-1.234,5"),
                                                   (9.65, 1, "9,7"), (0.125, 2, "0,12"), (None, 1, "–")])
def test_numbers_are_written_the_dutch_way(value, decimals, text):
    assert formatting.number(value, decimals) == text


def test_a_table_shows_dutch_numbers_and_a_word_for_a_withheld_cell():
    frame = tables._with_decimals(pd.DataFrame({
        "Wijk": ["Noord", "Zuid"], "Inwoners": [32080.0, float("nan")], "Aandeel (%)": [4.9, float("nan")],
        "Aantal (n)": pd.array([1200, pd.NA], dtype="Int64"), "Opmerking": ["", "onderdrukt: minder dan 10 inwoners"],
    }), {"Inwoners": 0, "Aandeel (%)": 1})
    shown = tables.for_display(frame)
    assert shown.iloc[0].tolist() == ["Noord", "32.080", "4,9", "1.200", ""]
    assert shown.iloc[1, 1:4].tolist() == ["onderdrukt"] * 3


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\",\"klik\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
                                  "\t=1+1"])
def test_formulas_in_names_reach_excel_as_text(name):
    frame = pd.DataFrame({"School": [name, "De Regenboog"], "Verschil": [-0.25, 1.5]})
    data = tables.to_csv(frame, synthetic=False).decode("utf-8-sig")
    read = pd.read_csv(io.StringIO(data), sep=";", decimal=",")
    assert read["School"].iloc[0] == "'" + name and read["School"].iloc[1] == "De Regenboog"
    assert read["Verschil"].tolist() == [-0.25, 1.5]  # numbers stay numbers, minus sign and all


def test_markdown_in_a_name_is_shown_as_text():
    name = "[klik hier](https://phish.example) **Vet** :red[rood] $x^2$ ![img](x.png)"
    escaped = plain(name)
    assert re.search(r"(?<!\\)[\[\]()*$:!]", escaped) is None  # every Markdown sign escaped
    assert escaped.replace("\\", "") == name  # nothing of the text itself is lost


def test_chart_axes_write_thousands_with_a_dot_and_decimals_with_a_comma():
    chart = charts._finish(alt.Chart(pd.DataFrame({"x": [1200.5, 32080.25]})).mark_point().encode(
        x=alt.X("x:Q", axis=charts._dutch_axis("Inwoners", "per_1000"))), 200, "Punten")
    svg = charts.image(chart, "svg").decode()
    assert "10.000" in svg and "10,000" not in svg
    narrow = charts._finish(alt.Chart(pd.DataFrame({"x": [1.21, 1.78]})).mark_point().encode(
        x=alt.X("x:Q", axis=charts._dutch_axis("Inwoners", "per_1000"))), 200, "Punten")
    labels = re.findall(r">(\d+(?:[.,]\d+)?)</text>", charts.image(narrow, "svg").decode())
    assert "1,2" in labels and "1.2" not in labels and len(labels) == len(set(labels)), labels
