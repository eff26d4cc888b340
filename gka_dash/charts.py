"""Altair chart builders: a DataFrame in, a chart out, no Streamlit.

Every builder receives rows that already passed suppression, so it cannot draw what it was never
given. Labels and tooltips are Dutch and numbers use the decimal comma; the colours are the
Okabe-Ito set, which stays distinguishable for the common forms of colour blindness.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import textwrap
import threading
from typing import NamedTuple

import altair as alt
import numpy as np
import pandas as pd
import vl_convert
from PIL import Image
from altair.utils.schemapi import debug_mode
from cachetools import LRUCache

from . import formatting, geometry, registry, stats
from .analysis import ALL_GEMEENTEN, Fit
from .periods import sort_periods

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
GROUP_COLOURS = {"laag": "#D55E00", "midden": "#009E73", "hoog": "#0072B2"}
FONT = "Source Sans Pro, Arial, sans-serif"
# Vega's number locale for nl-NL, so every d3 format in a chart (axes, tooltips) writes 32.080
# and 4,9 whatever the browser's language; set once in the chart's config.
DUTCH_LOCALE = {"number": {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["€\u00a0", ""]}}


_built: LRUCache = LRUCache(maxsize=256)
_built_lock = threading.Lock()


def _fingerprint(value):
    if isinstance(value, pd.DataFrame):
        hashes = pd.util.hash_pandas_object(value, index=True).to_numpy()
        return ("frame", tuple(value.columns), tuple(map(str, value.dtypes)), hashlib.sha256(hashes.tobytes()).hexdigest())
    return value


def _built_once(builder):
    """A chart is a function of its data alone, so one built for the same data (by content, not
    by who asked) is reused: a click that changes nothing the chart shows builds nothing.

    Building also skips altair's schema check of every part as it is made, which took half the
    time of a chart of 200 schools; Streamlit and the image export still check the whole chart
    when they turn it into Vega-Lite.
    """
    @functools.wraps(builder)
    def build(*args, **kwargs):
        key = (builder.__name__, tuple(map(_fingerprint, args)), tuple(sorted(kwargs.items())))
        with _built_lock:
            chart = _built.get(key)
        if chart is None:
            with debug_mode(False):
                chart = builder(*args, **kwargs)
            with _built_lock:
                _built[key] = chart
        return chart
    return build


# What a screen reader says for one point: the point's own sentence in Dutch, not Vega's
# "value: 28.1581090694; where: Alle gemeenten" made of raw numbers and field names.
POINT = alt.Description("punt:N")


def _dutch_axis(title: str, unit: str, **kwargs) -> alt.Axis:
    """An axis in Dutch numbers whose labels never repeat: a narrow range (afstroom from 10 to
    12 %) got ticks every half percent written with no decimals (12, 12, 11, 11, …); ticks now
    step at least one unit of the last decimal shown, and trailing zeros are dropped (10; 10,5)."""
    decimals = formatting.DECIMALS.get(unit, 1)
    return alt.Axis(title=title, format=f",.{decimals}~f", tickMinStep=10 ** -decimals, **kwargs)


def _text(values, unit: str) -> list[str]:
    return [formatting.value(None if pd.isna(v) else float(v), unit) for v in values]


# Chart text in Streamlit's body colour: its theme's grey (#808495) is 3,7:1 on white, below
# the 4,5:1 WCAG 2.1 AA asks for text (issue #16); this is 12,6:1.
TEXT = "#31333F"
TEXT_COLOURS = {"labelColor": TEXT, "titleColor": TEXT}


AXES = {"x": "Horizontale as", "y": "Verticale as"}
LEGEND_CHANNELS = ("color", "fill", "stroke", "strokeDash", "shape", "size")


def _title(encoding: dict) -> str | None:
    for part in (encoding, encoding.get("axis") or {}, encoding.get("legend") or {}):
        title = part.get("title")
        if title:
            return " ".join(title) if isinstance(title, list) else str(title)
    return None


def _guides_in_words(chart) -> str:
    """The axes and legends of a chart as Dutch sentences for its description.

    Vega reads each axis and legend out in English ("X-axis titled … for a linear scale"): a
    description on the axis does not replace that in the Vega that Streamlit ships, so the
    guides are hidden from screen readers (``aria: false``) and said here instead."""
    axes, legends = {}, []
    for view in [chart, *(getattr(chart, "layer", None) or [])]:
        encodings = getattr(view, "encoding", alt.Undefined)
        encodings = {} if encodings is alt.Undefined else encodings.to_dict(validate=False)  # no data: cheap
        for channel, encoding in encodings.items():
            if not isinstance(encoding, dict) or encoding.get("axis", {}) is None or encoding.get("legend", {}) is None:
                continue
            title = _title(encoding)
            if channel in AXES and title:
                axes.setdefault(channel, title)
            elif channel in LEGEND_CHANNELS and title and title not in legends:
                legends.append(title)
    words = [f"{AXES[channel]}: {title}." for channel, title in sorted(axes.items())]
    return " ".join(words + ([f"Legenda: {'; '.join(legends)}."] if legends else []))


def _finish(chart: alt.Chart, height, description: str) -> alt.Chart:
    """Size, Dutch numbers, readable text, and a description that screen readers announce
    instead of "Vega visualization", with the axes and legends in Dutch words."""
    return (chart.properties(height=height, description=f"{description} {_guides_in_words(chart)}".strip())
            .configure(font=FONT, locale=DUTCH_LOCALE)
            .configure_axis(labelFontSize=13, titleFontSize=13, aria=False, **TEXT_COLOURS)
            .configure_legend(labelFontSize=13, titleFontSize=13, labelLimit=260, aria=False, **TEXT_COLOURS)
            .configure_view(stroke=None))


@_built_once
def dumbbell(frame: pd.DataFrame, ind: registry.Indicator, before: str, after: str,
             references: pd.DataFrame, name: str, selected: str | None = None,
             domain: tuple[float, float] | None = None, step: int = 26) -> alt.Chart:
    """Each wijk's value in two periods joined by a line, the largest rise on top, with the
    gemeente's and all gemeenten's average of the later period as vertical references.
    ``domain`` fixes the value axis, so the pages of one long list share one scale; ``step`` is
    a wijk's height in pixels (larger for a projector's type)."""
    rows = frame[frame["change"].notna()].copy()
    rows["verandering"] = [formatting.difference(v, ind.unit) + (f" ({w}; 95 %: {formatting.interval(lo, hi, ind.unit)})"
                                                                 if w else "")
                           for v, w, lo, hi in zip(rows["change"], rows["verdict"], rows["change_low"],
                                                   rows["change_high"])]
    long = pd.concat([
        rows.assign(periode=before, waarde=rows["before"], n=rows["n_before"], laag=rows["low_before"],
                    hoog=rows["high_before"]),
        rows.assign(periode=after, waarde=rows["after"], n=rows["n_after"], laag=rows["low_after"],
                    hoog=rows["high_after"]),
    ])[["name", "periode", "waarde", "n", "laag", "hoog", "verandering"]]
    long["waarde_tekst"] = _text(long["waarde"], ind.unit)
    long["interval"] = [formatting.interval(lo, hi, ind.unit) for lo, hi in zip(long["laag"], long["hoog"])]
    long["punt"] = [f"{w}, {p}: {v} (95 %: {i})" for w, p, v, i in
                    zip(long["name"], long["periode"], long["waarde_tekst"], long["interval"])]
    order = rows["name"].tolist()
    chosen = frame.loc[frame["code"] == selected, "name"].tolist() if selected else []
    # The chosen wijk (clicked on the map or picked in the list) in bold on a marked row.
    bold = ({"condition": {"test": f"datum.value == {json.dumps(chosen[0])}", "value": "bold"}, "value": "normal"}
            if chosen else "normal")
    y = alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=220, labelFontWeight=bold))
    x_title = registry.axis_title(ind)
    base = alt.Chart(long)
    lines = base.mark_rule(strokeWidth=2.5, color="#9a9a9a", aria=False).encode(
        y=y, x=alt.X("min(waarde):Q", axis=_dutch_axis(x_title, ind.unit),
                     scale=alt.Scale(zero=False) if domain is None else alt.Scale(domain=list(domain), nice=False)),
        x2="max(waarde):Q")
    tooltip = [alt.Tooltip("name:N", title="Wijk"), alt.Tooltip("periode:N", title="Periode"),
               alt.Tooltip("waarde_tekst:N", title=ind.label), alt.Tooltip("interval:N", title="95 %-interval"),
               alt.Tooltip("n:Q", title="Leerlingen", format=",.0f"),
               alt.Tooltip("verandering:N", title="Verandering")]
    colour = alt.Color("periode:N", title="Periode", sort=[before, after],
                       scale=alt.Scale(domain=[before, after], range=[OKABE_ITO[1], OKABE_ITO[0]]),
                       legend=alt.Legend(orient="top"))
    # Each period's 95 % interval as a thin bar just above (earlier) or below (later) the row,
    # so the bars do not hide the line between the two dots.
    bars = [base.transform_filter(f"isValid(datum.laag) && datum.periode == '{period}'")
            .mark_rule(strokeWidth=2, opacity=0.85, yOffset=offset, aria=False)
            .encode(y=y, x="laag:Q", x2="hoog:Q", color=colour, tooltip=tooltip)
            for period, offset in ((before, -7), (after, 7))]
    dots = base.mark_circle(size=110, opacity=1).encode(y=y, x="waarde:Q", color=colour, tooltip=tooltip,
                                                        description=POINT)
    layers = [lines, *bars, dots]
    if chosen:
        layers.insert(0, alt.Chart(pd.DataFrame({"name": chosen})).mark_rect(color="#fff1a8", aria=False).encode(y=y))
    latest = references[references["period"] == after]
    refs = pd.DataFrame([
        {"ref": name, "waarde": latest["gemeente"].iloc[0] if len(latest) else None},
        {"ref": ALL_GEMEENTEN, "waarde": latest["alle"].iloc[0] if len(latest) else None},
    ]).dropna()
    if not refs.empty:
        refs["waarde_tekst"] = _text(refs["waarde"], ind.unit)
        layers.append(alt.Chart(refs).mark_rule(strokeWidth=1.5, aria=False).encode(
            x="waarde:Q",
            strokeDash=alt.StrokeDash("ref:N", title=f"Gemiddelde {after}",
                                      scale=alt.Scale(domain=[name, ALL_GEMEENTEN], range=[[1, 0], [6, 4]]),
                                      legend=alt.Legend(orient="top", symbolType="stroke", symbolSize=500,
                                                        symbolStrokeWidth=2)),
            tooltip=[alt.Tooltip("ref:N", title="Referentie"), alt.Tooltip("waarde_tekst:N", title=ind.label)]))
    return _finish(alt.layer(*layers), alt.Step(step),
                   f"Puntgrafiek: {ind.label.lower()} per wijk van {name} in {before} en {after}, elke periode met "
                   f"haar 95 %-interval, gesorteerd op verandering; de cijfers staan ook in de tabel eronder.")


def dumbbell_pages(frame: pd.DataFrame, ind: registry.Indicator, before: str, after: str,
                   references: pd.DataFrame, name: str, per_page: int, step: int = 26) -> list[alt.Chart]:
    """The dumbbell cut into pages of at most ``per_page`` wijken, in the same order, each with
    its own axis and legend and all on one scale: a list of 45 wijken does not fit a page or a
    slide, and a chart split by the page break loses its axis (issue #24)."""
    rows = frame[frame["change"].notna()]
    if len(rows) <= per_page:
        return [dumbbell(frame, ind, before, after, references, name, step=step)]
    values = pd.concat([rows[c] for c in ("before", "after", "low_before", "high_before", "low_after", "high_after")]
                       + [references.loc[references["period"] == after, c] for c in ("gemeente", "alle")]).dropna()
    grain = 10 ** -formatting.DECIMALS.get(ind.unit, 1) * 5
    low, high = float(values.min()), float(values.max())
    domain = (float(np.floor(low / grain) * grain), float(np.ceil(high / grain) * grain))
    pages = -(-len(rows) // per_page)
    size = -(-len(rows) // pages)  # pages of even length: 45 wijken as 15, 15, 15, not 20, 20, 5
    return [dumbbell(rows.iloc[i:i + size], ind, before, after, references, name, domain=domain, step=step)
            for i in range(0, len(rows), size)]


def _haloed(base: alt.Chart, encoding: dict, *, halo: float, **text) -> list[alt.Chart]:
    """Text with a white halo, readable over points and lines: Vega draws a text's stroke over
    its fill, so the halo is a layer of its own under the letters."""
    return [base.mark_text(stroke="#ffffff", strokeWidth=3, strokeOpacity=halo, aria=False, **text).encode(**encoding),
            base.mark_text(aria=False, **text).encode(**encoding)]


def school_labels(schools: pd.DataFrame) -> pd.Series:
    """Names as labels, with the id added where two vestigingen share a name."""
    duplicated = schools["name"].duplicated(keep=False)
    return schools["name"].where(~duplicated, schools["name"] + " (" + schools["id"] + ")")


OTHER_SCHOOLS = "Overige scholen"
QUIET = "#9a9a9a"


@_built_once
def school_scatter(pairs: pd.DataFrame, schools: pd.DataFrame, x_ind: registry.Indicator,
                   y_ind: registry.Indicator, fit: Fit | None, highlight: str | None = None) -> alt.Chart:
    """Schools as grey points and the line that all schools of all gemeenten lead one to expect;
    the highlighted school in colour with its path over the years.

    Built for a big city: 200 schools get no legend of 200 names (which took the plot's height)
    and no palette of 20 colours that repeats; every name is on hover, and the one school the
    user looks for stands out. The legend holds at most three entries.
    """
    labels = dict(zip(schools["id"], school_labels(schools)))
    # The chart carries the label only: with pseudonyms, a vestiging id in its data would name the school.
    rows = pairs.assign(school=pairs["id"].map(labels))
    rows["groep"] = [labels[i] if i == highlight else OTHER_SCHOOLS for i in rows["id"]]
    rows = rows.drop(columns=["id", "code"], errors="ignore")
    rows["x_tekst"], rows["y_tekst"] = _text(rows["x"], x_ind.unit), _text(rows["y"], y_ind.unit)
    rows["verwacht"] = _text(rows["expected"], y_ind.unit)
    rows["interval"] = [formatting.interval(lo, hi, y_ind.unit) for lo, hi in zip(rows["low"], rows["high"])]
    rows["ten_opzichte"] = ["" if pd.isna(r) else f"{formatting.difference(r, y_ind.unit)} ({position})"
                            for r, position in zip(rows["residual"], rows["position"])]
    rows["punt"] = [f"{school}, {period}: {y} bij {x}; {t}" for school, period, y, x, t in
                    zip(rows["school"], rows["period"], rows["y_tekst"], rows["x_tekst"], rows["ten_opzichte"])]
    domain = [labels[highlight], OTHER_SCHOOLS] if highlight in labels else [OTHER_SCHOOLS]
    colour = alt.Color("groep:N", title=None, scale=alt.Scale(domain=domain, range=[OKABE_ITO[0], QUIET][-len(domain):]),
                       legend=alt.Legend(orient="top", labelLimit=400))
    x = alt.X("x:Q", axis=_dutch_axis(registry.axis_title(x_ind), x_ind.unit), scale=alt.Scale(zero=False))
    y = alt.Y("y:Q", axis=_dutch_axis(registry.axis_title(y_ind), y_ind.unit), scale=alt.Scale(zero=False))
    tooltip = [alt.Tooltip("school:N", title="School"), alt.Tooltip("period:N", title="Schooljaar"),
               alt.Tooltip("x_tekst:N", title=x_ind.label), alt.Tooltip("y_tekst:N", title=y_ind.label),
               alt.Tooltip("interval:N", title="95 %-interval"), alt.Tooltip("verwacht:N", title="Verwacht"), alt.Tooltip("ten_opzichte:N", title="Ten opzichte"),
               alt.Tooltip("n:Q", title="Leerlingen", format=",.0f")]
    others = alt.Chart(rows[rows["groep"] == OTHER_SCHOOLS]).mark_circle(size=55, opacity=0.45).encode(
        x=x, y=y, color=colour, tooltip=tooltip, description=POINT)
    layers = [others]
    chosen = rows[rows["groep"] != OTHER_SCHOOLS]
    if len(chosen):
        base = alt.Chart(chosen)
        layers += [base.mark_line(strokeWidth=2.5, aria=False).encode(x=x, y=y, color=colour, order="period:O"),
                   base.mark_circle(size=160, opacity=1, stroke="#000000", strokeWidth=1).encode(
                       x=x, y=y, color=colour, tooltip=tooltip, description=POINT),
                   # Each step of the path named by its school year: without it the line says
                   # neither where it starts nor which way it went.
                   *_haloed(base, dict(x=x, y=y, text="period:N"), halo=0.7, align="left", dx=9, dy=-9,
                            fontSize=13, fontWeight=600, color=TEXT)]
    if fit is not None and len(rows):
        grid = np.linspace(float(rows["x"].min()), float(rows["x"].max()), 40)
        line = pd.DataFrame({"x": grid, "y": fit.predict(grid),
                             "label": "Verwacht (alle scholen, alle gemeenten, gemiddeld schooljaar)"})
        layers.insert(0, alt.Chart(line).mark_line(color="#333333", strokeDash=[6, 4], strokeWidth=2, aria=False).encode(
            x="x:Q", y="y:Q", tooltip=alt.Tooltip("label:N", title="Lijn")))
    return _finish(alt.layer(*layers), 480,
                   f"Spreidingsdiagram: {y_ind.label.lower()} per school tegen {x_ind.label.lower()}, met de lijn die "
                   "alle scholen samen doen verwachten; de cijfers staan ook in de tabel eronder.")


POSITION_COLOURS = {"ver boven verwachting": "#0072B2", "boven verwachting": "#56B4E9",
                    "binnen de marge": QUIET, "onder verwachting": "#E69F00", "ver onder verwachting": "#D55E00"}


def funnel_curves(pairs: pd.DataFrame, y_ind: registry.Indicator, fit: Fit | None) -> pd.DataFrame:
    """The funnel's limits over the range of school sizes. For a mean they depend on n alone;
    for a share also on the expected share, and the curves use the median school's (each
    school's own position uses its own, see analysis.school_pairs)."""
    sizes = pairs["n"].dropna()
    if sizes.empty or fit is None:
        return pd.DataFrame(columns=["n", "grens", "boven", "onder"])
    grid = np.unique(np.round(np.geomspace(max(float(sizes.min()), 1), float(sizes.max()), 80)))
    typical = float(pairs["expected"].median())
    chance = [stats.variance(typical, n, y_ind.unit, phi=fit.dispersion) for n in grid]
    if None in chance:
        return pd.DataFrame(columns=["n", "grens", "boven", "onder"])
    frames = []
    for level, label in zip(stats.FUNNEL_LEVELS, ("95 %-grens", "99,8 %-grens")):
        limit = stats.funnel_limit(chance, fit.spread, level)
        frames.append(pd.DataFrame({"n": grid, "grens": label, "boven": limit, "onder": -limit}))
    return pd.concat(frames, ignore_index=True)


@_built_once
def funnel(pairs: pd.DataFrame, schools: pd.DataFrame, y_ind: registry.Indicator, fit: Fit | None,
           highlight: str | None = None) -> alt.Chart:
    """Each school's distance from what its population leads one to expect, against its number
    of pupils, inside the limits that chance and the usual spread between schools allow: small
    schools scatter widely by chance, so only a point outside the funnel says something."""
    labels = dict(zip(schools["id"], school_labels(schools)))
    rows = pairs.dropna(subset=["residual", "n"]).assign(school=lambda f: f["id"].map(labels))
    rows["verschil"] = [formatting.difference(r, y_ind.unit) for r in rows["residual"]]
    rows["grens"] = ["±" + formatting.number(v, formatting.DECIMALS.get(y_ind.unit, 1)) for v in rows["limit95"]]
    rows["gekozen"] = rows["id"] == highlight
    rows["punt"] = [f"{school}, {period}: {v} met verwachting bij {formatting.number(n, 0)} leerlingen; {p}"
                    for school, period, v, n, p in zip(rows["school"], rows["period"], rows["verschil"], rows["n"],
                                                       rows["position"])]
    rows = rows.drop(columns=["id", "code"], errors="ignore")
    y_title = f"Verschil met verwachting ({registry.axis_title(y_ind)})"
    x = alt.X("n:Q", title="Leerlingen (n)", axis=alt.Axis(format=",.0f"), scale=alt.Scale(zero=False))
    y = alt.Y("residual:Q", axis=_dutch_axis(y_title, y_ind.unit))
    curves = funnel_curves(rows, y_ind, fit)
    dash = alt.StrokeDash("grens:N", title="Grenzen", scale=alt.Scale(domain=["95 %-grens", "99,8 %-grens"],
                                                                      range=[[6, 4], [2, 2]]),
                          legend=alt.Legend(orient="top", symbolType="stroke", symbolStrokeColor="#333333"))
    layers = [alt.Chart(pd.DataFrame({"nul": [0.0]})).mark_rule(color="#333333", strokeWidth=1, aria=False)
              .encode(y="nul:Q")]
    for side in ("boven", "onder"):
        layers.append(alt.Chart(curves).mark_line(color="#333333", strokeWidth=1.5, aria=False).encode(
            x="n:Q", y=f"{side}:Q", strokeDash=dash, detail="grens:N"))
    positions = list(POSITION_COLOURS)
    tooltip = [alt.Tooltip("school:N", title="School"), alt.Tooltip("period:N", title="Schooljaar"),
               alt.Tooltip("verschil:N", title="Verschil met verwachting"),
               alt.Tooltip("grens:N", title="95 %-grens bij deze grootte"),
               alt.Tooltip("position:N", title="Oordeel"), alt.Tooltip("n:Q", title="Leerlingen", format=",.0f")]
    colour = alt.Color("position:N", title=None, sort=positions,
                       scale=alt.Scale(domain=positions, range=[POSITION_COLOURS[p] for p in positions]),
                       legend=alt.Legend(orient="top", columns=3, labelLimit=300))
    layers.append(alt.Chart(rows).mark_circle(size=60, opacity=0.75).encode(x=x, y=y, color=colour, tooltip=tooltip,
                                                                            description=POINT))
    chosen = rows[rows["gekozen"]]
    if len(chosen):
        layers.append(alt.Chart(chosen).mark_point(size=220, stroke="#000000", strokeWidth=2, filled=False,
                                                   aria=False).encode(
            x=x, y=y, tooltip=tooltip))
    return _finish(alt.layer(*layers).resolve_scale(strokeDash="shared"), 420,
                   f"Trechtergrafiek: per school het verschil tussen {y_ind.label.lower()} en de verwachting, tegen het "
                   "aantal leerlingen, met de 95 %- en 99,8 %-grenzen van toeval; de cijfers staan ook in de tabel.")


@_built_once
def group_lines(frame: pd.DataFrame, ind: registry.Indicator, name: str) -> alt.Chart:
    """One line per ouderopleiding group over the years; solid for the gemeente, dashed for all
    gemeenten, so the gap and its reference sit in one picture."""
    rows = frame.assign(waarde_tekst=_text(frame["value"], ind.unit),
                        interval=[formatting.interval(lo, hi, ind.unit) for lo, hi in zip(frame["low"], frame["high"])])
    rows["punt"] = [f"{w}, ouders {g}, {p}: {v}" + (f" (95 %: {i})" if i != "–" else "") for w, g, p, v, i in
                    zip(rows["where"], rows["group"], rows["period"], rows["waarde_tekst"], rows["interval"])]
    groups = list(registry.OUDEROPLEIDING_GROUPS)
    encoding = dict(
        x=alt.X("period:O", title="Jaar", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", axis=_dutch_axis(registry.axis_title(ind), ind.unit), scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("group:N", title="Opleiding ouders", sort=groups,
                        scale=alt.Scale(domain=groups, range=[GROUP_COLOURS[g] for g in groups]),
                        legend=alt.Legend(orient="top")),
        strokeDash=alt.StrokeDash("where:N", title=None, sort=[name, ALL_GEMEENTEN],
                                  scale=alt.Scale(domain=[name, ALL_GEMEENTEN], range=[[1, 0], [6, 4]]),
                                  legend=alt.Legend(orient="top", symbolType="stroke", symbolSize=500,
                                                    symbolStrokeWidth=2, symbolStrokeColor="#333333")),
        detail="where:N",
        tooltip=[alt.Tooltip("where:N", title="Gebied"), alt.Tooltip("group:N", title="Opleiding ouders"),
                 alt.Tooltip("period:O", title="Jaar"), alt.Tooltip("waarde_tekst:N", title=ind.label),
                 alt.Tooltip("interval:N", title="95 %-interval"),
                 alt.Tooltip("n:Q", title="17-jarigen", format=",.0f")],
    )
    base = alt.Chart(rows).encode(**encoding)
    # The gemeente's 95 % intervals as error bars; the reference has none (its width would give its n away).
    bars = base.transform_filter("isValid(datum.low)").mark_rule(strokeWidth=2, opacity=0.7, aria=False).encode(
        y="low:Q", y2="high:Q", strokeDash=alt.value([1, 0]))
    return _finish(alt.layer(bars, base.mark_line(strokeWidth=2.5, aria=False),
                             base.mark_point(filled=True, size=70).encode(description=POINT, strokeDash=alt.value([1, 0]))), 380,
                   f"Lijngrafiek: {ind.label.lower()} per jaar naar opleiding van de ouders, {name} doorgetrokken met "
                   "95 %-intervallen, alle gemeenten gestreept; de cijfers staan ook in de tabel eronder.")


TREND_NAMES = {"all_gemeenten": "Alle gemeenten", "gka": "GKA-gemeenten", "peers": "Vergelijkbare gemeenten"}


@_built_once
def trend_lines(frame: pd.DataFrame, ind: registry.Indicator, name: str) -> alt.Chart:
    """One figure over every loaded period: the gemeente as a line with its 95 % band, the
    references as thinner lines without a band (their margin would give their n away)."""
    names = {"gemeente": name, **TREND_NAMES}
    rows = frame.assign(wie=frame["where"].map(names), waarde_tekst=_text(frame["value"], ind.unit),
                        interval=[formatting.interval(lo, hi, ind.unit) for lo, hi in zip(frame["low"], frame["high"])])
    rows["punt"] = [f"{w}, {p}: {v}" + (f" (95 %: {i})" if i != "–" else "") for w, p, v, i in
                    zip(rows["wie"], rows["period"], rows["waarde_tekst"], rows["interval"])]
    order = [names[w] for w in names if (rows["where"] == w).any()]
    palette = {name: OKABE_ITO[0], TREND_NAMES["all_gemeenten"]: "#555555", TREND_NAMES["gka"]: OKABE_ITO[1],
               TREND_NAMES["peers"]: OKABE_ITO[3]}
    dashes = {name: [1, 0], TREND_NAMES["all_gemeenten"]: [6, 4], TREND_NAMES["gka"]: [2, 2], TREND_NAMES["peers"]: [8, 3, 2, 3]}
    x = alt.X("period:O", title=None, sort=sort_periods(rows["period"]), axis=alt.Axis(labelAngle=0))
    colour = alt.Color("wie:N", title=None, sort=order, scale=alt.Scale(domain=order, range=[palette[o] for o in order]),
                       legend=alt.Legend(orient="top", symbolType="stroke", symbolSize=400, symbolStrokeWidth=2.5,
                                         labelLimit=300))
    dash = alt.StrokeDash("wie:N", sort=order, scale=alt.Scale(domain=order, range=[dashes[o] for o in order]),
                          legend=None)
    tooltip = [alt.Tooltip("wie:N", title="Gebied"), alt.Tooltip("period:N", title="Periode"),
               alt.Tooltip("waarde_tekst:N", title=ind.label), alt.Tooltip("interval:N", title="95 %-interval"),
               alt.Tooltip("n:Q", title="Aantal", format=",.0f")]
    y = alt.Y("value:Q", axis=_dutch_axis(registry.axis_title(ind), ind.unit), scale=alt.Scale(zero=False))
    base = alt.Chart(rows)
    band = base.transform_filter("isValid(datum.low)").mark_area(opacity=0.18, color=OKABE_ITO[0], aria=False).encode(
        x=x, y="low:Q", y2="high:Q")
    lines = base.mark_line(strokeWidth=2.5, point=alt.OverlayMarkDef(size=60, filled=True)).encode(
        x=x, y=y, color=colour, strokeDash=dash, detail="wie:N", tooltip=tooltip, description=POINT)
    layers = [band, lines]
    if registry.METHOD_BREAK in set(rows["period"]) and sort_periods(rows["period"])[0] != registry.METHOD_BREAK:
        marker = pd.DataFrame({"period": [registry.METHOD_BREAK], "tekst": ["vanaf hier '<5' geschat (DUO)"]})
        rule = alt.Chart(marker).mark_rule(color="#333333", strokeDash=[3, 3], strokeWidth=1.5, aria=False).encode(x=x)
        label = alt.Chart(marker).mark_text(align="left", dx=4, dy=-6, baseline="bottom", color="#333333",
                                             fontSize=12, aria=False).encode(x=x, y=alt.value(12), text="tekst:N")
        layers += [rule, label]
    return _finish(alt.layer(*layers), 320,
                   f"Lijngrafiek: {ind.label.lower()} van {name} over alle geladen perioden met een band voor het "
                   "95 %-interval, en de vergelijkingsgroepen als dunnere lijnen.")


def follow_up(frame: pd.DataFrame, ind: registry.Indicator, subject: str, baseline_period: str) -> alt.Chart:
    """An afspraak's indicator over every loaded period with its 95 % band, and the period of the
    baseline marked: what happened before and after the agreement, in one line."""
    rows = frame.assign(waarde_tekst=_text(frame["value"], ind.unit),
                        interval=[formatting.interval(lo, hi, ind.unit) for lo, hi in zip(frame["low"], frame["high"])])
    rows["punt"] = [f"{p}: {v}" + (f" (95 %: {i})" if i != "–" else "") for p, v, i in
                    zip(rows["period"], rows["waarde_tekst"], rows["interval"])]
    x = alt.X("period:O", title=None, sort=sort_periods(rows["period"]), axis=alt.Axis(labelAngle=0))
    y = alt.Y("value:Q", axis=_dutch_axis(registry.axis_title(ind), ind.unit), scale=alt.Scale(zero=False))
    base = alt.Chart(rows)
    band = base.transform_filter("isValid(datum.low)").mark_area(opacity=0.18, color=OKABE_ITO[0], aria=False).encode(
        x=x, y="low:Q", y2="high:Q")
    line = base.mark_line(strokeWidth=2.5, color=OKABE_ITO[0], point=alt.OverlayMarkDef(size=60, filled=True)).encode(
        x=x, y=y, tooltip=[alt.Tooltip("punt:N", title=ind.label)], description=POINT)
    marker = pd.DataFrame({"period": [baseline_period], "tekst": ["afspraak (beginwaarde)"]})
    rule = alt.Chart(marker).mark_rule(color="#333333", strokeDash=[3, 3], strokeWidth=1.5, aria=False).encode(x=x)
    label = alt.Chart(marker).mark_text(align="left", dx=4, baseline="top", color="#333333", fontSize=12,
                                         aria=False).encode(x=x, y=alt.value(4), text="tekst:N")
    return _finish(alt.layer(band, line, rule, label), 220,
                   f"Lijngrafiek: {ind.label.lower()} in {subject} over alle geladen perioden, met de periode van de "
                   "afspraak gemarkeerd.")


def static_map(view, *, width: int = 800, height: int = 600, name_size: float = 11.5,
               legend: str = "bottom") -> alt.Chart:
    """A maps.MapView drawn as a vector chart, for the report: same classes, colours and
    legend as the interactive map, no tiles, so it renders on the server as SVG or PNG; with the
    wijk names written inside the wijken where they fit, since paper cannot hover."""
    label_of = {entry.colour: entry.label for entry in view.legend}
    drawn = view.deck.layers[0].data
    features = [{"type": "Feature", "geometry": f["geometry"], "naam": f["naam"],
                 "klasse": label_of["#" + "".join(f"{c:02x}" for c in f["fill"][:3])]}
                for f in drawn]
    title = view.title if legend == "bottom" else textwrap.wrap(view.title, 24)  # beside the map: narrow
    colour = alt.Color("klasse:N", title=title, scale=alt.Scale(
        domain=[e.label for e in view.legend], range=[e.colour for e in view.legend]),
        legend=alt.Legend(orient=legend, columns=2 if legend == "bottom" else 1, titleLimit=600, labelLimit=300,
                          symbolType="square",
                          symbolStrokeColor="#777777", symbolStrokeWidth=1))
    shapes = alt.Chart(alt.Data(values=features)).mark_geoshape(stroke="#5a5a5a", strokeWidth=0.7).encode(color=colour)
    layers = [shapes]
    if features:
        outlines = [json.dumps(f["geometry"]) for f in drawn]
        fitted = geometry.fit(geometry.bounds(outlines), width, height)
        names = [f["naam"].rsplit(" (", 1)[0] for f in drawn]
        places = geometry.label_points(outlines, names, fitted, char_px=name_size * 0.58, line_px=name_size * 1.3)
        if places:
            labels = pd.DataFrame({"lon": [p["position"][0] for p in places], "lat": [p["position"][1] for p in places],
                                   "naam": [p["naam"] for p in places]})
            layers += _haloed(alt.Chart(labels), dict(longitude="lon:Q", latitude="lat:Q", text="naam:N"), halo=0.8,
                              fontSize=name_size, fontWeight=600, color="#000000", lineBreak="\n")
    return (alt.layer(*layers).project("mercator")
            .properties(width=width, height=height, description=f"Kaart van de wijken: {view.title}")
            .configure(font=FONT, locale=DUTCH_LOCALE)
            .configure_legend(labelFontSize=13, titleFontSize=13, aria=False, **TEXT_COLOURS)  # said in the description
            .configure_view(stroke=None))


class Caption(NamedTuple):
    """What a chart saved as a file carries on the image itself, so it still says what it shows
    when it is pasted into a memo or mailed on: the view's title, the place, the periods and the
    source (and on the demo that it is made up)."""
    title: str
    place: str
    periods: str
    source: str


SYNTHETIC_MARK = "SYNTHETISCH (demo): verzonnen gemeenten, wijken, scholen en cijfers"
# Widths in pixels (the PNG is drawn at twice this): a chart over time or over a range of schools
# gets a landscape page, a ranked list of wijken as wide as its names and values need.
FILE_WIDTH = 900


def for_file(chart: alt.Chart, caption: Caption, *, synthetic: bool, width: int = FILE_WIDTH) -> alt.Chart:
    """The chart as it goes into a file: a fixed width (on screen it takes the container's, which
    a file lacks, so a chart over two periods shrank to its two 20-pixel steps beside a wide
    legend) and its title, place, periods, source and synthetic label written on it."""
    lines = [f"{caption.place} · {caption.periods}", f"Bron: {caption.source}"]
    if synthetic:
        lines.append(SYNTHETIC_MARK)
    sized = chart if isinstance(chart.width, int) else chart.properties(width=width)
    return sized.properties(title=alt.TitleParams(
        caption.title, subtitle=lines, anchor="start", fontSize=20, fontWeight="bold", color=TEXT,
        subtitleFontSize=14, subtitleColor=TEXT, subtitlePadding=6, offset=14, limit=width + 200,
        subtitleFontWeight="normal"))


PROJECTOR_HEIGHT = 1.3  # a fixed-height chart grows with its type, or its legend takes the plot's room


def for_projector(chart: alt.Chart, size: int = 20, *, taller: bool = True) -> alt.Chart:
    """The same chart with type large enough for the back of a meeting room, and taller: a
    page fits a chart to its height, legend included, so a funnel whose legend grew to three
    rows of large type was flattened to 150 pixels with its axis title cut off."""
    if taller and isinstance(chart.height, int):
        chart = chart.properties(height=int(chart.height * PROJECTOR_HEIGHT))
    return (chart.configure_axis(labelFontSize=size, titleFontSize=size, **TEXT_COLOURS)
            .configure_legend(labelFontSize=size - 1, titleFontSize=size - 1, labelLimit=360, titleLimit=520, symbolSize=180,
                              **TEXT_COLOURS))


PNG_SCALE = 2  # pixels per CSS pixel: sharp on a projector and in print


def png_size(png: bytes) -> tuple[int, int]:
    """A rendered PNG's width and height in pixels, for placing it on a page or a slide."""
    with Image.open(io.BytesIO(png)) as picture:
        return picture.width, picture.height


def image(chart: alt.Chart, fmt: str) -> bytes:
    """The chart as an SVG or PNG file, rendered on the server so a saved image needs no browser."""
    spec = chart.to_json()
    if fmt == "svg":
        return vl_convert.vegalite_to_svg(spec).encode()
    return vl_convert.vegalite_to_png(spec, scale=PNG_SCALE)
