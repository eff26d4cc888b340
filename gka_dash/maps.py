"""pydeck map builders: wijken coloured by a value, schools as points, and the legend pydeck does
not draw itself; and the national map of a scope, from scoped reads, cached. No Streamlit here.

Colours are computed in Python from rows that passed suppression; a withheld wijk is drawn grey
with the reason in its tooltip, so its value never reaches the browser. Palettes are ColorBrewer
schemes marked safe for colour blindness: YlGnBu for levels, PuOr for differences.
"""

from __future__ import annotations

import json
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from . import analysis, config, formatting, geometry, privacy, queries, registry
from .analysis import MISSING, SHOWN, WITHHELD, AreaValues, area_values
from .cache import cached

SEQUENTIAL = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"]
# No neutral middle class: a wijk that barely changed still shows its direction, and a neutral
# pale grey stays free for "geen gegevens".
DIVERGING = ["#b35806", "#f1a340", "#fee0b6", "#d8daeb", "#998ec3", "#542788"]  # orange = worse
# Two greys that stay apart from every class and from each other for the common colour-vision
# deficiencies (CAM02-UCS ΔE ≥ 10 after simulation, tests/test_chart_text.py), and 20 apart from
# each other (the two dark greys used before were 11.5 apart and read as one). "Onderdrukt" is the
# light one: a large port with few inhabitants drawn dark grey read as "high" on a scale that
# ends in dark blue.
STATUS_COLOURS = {WITHHELD: "#b4b4b4", MISSING: "#808080"}
STATUS_TEXT = {MISSING: "geen gegevens voor deze periode"}
# A change within its margin: white inside the wijk's outline (a gemeente's map always draws
# outlines), so only changes beyond chance carry a colour.
WITHIN_MARGIN = "#ffffff"
WITHIN_MARGIN_TEXT = "Binnen de marge"
SCHOOL_COLOUR = [20, 20, 20]
# Beyond this many areas (the national view of wijken) outlines are left out: drawing them cost
# seconds per frame while panning where WebGL runs without a GPU, and at that scale the borders
# would be a grey mesh over the colours anyway.
STROKE_LIMIT = 1000


class LegendEntry(NamedTuple):
    colour: str
    label: str


class MapView(NamedTuple):
    deck: pdk.Deck
    legend: list[LegendEntry]
    title: str  # the legend's title, with the unit the class labels leave out
    height: int  # the map's height on the page: the size it was fitted to (_height)


def _height(projector: bool) -> int:
    return (geometry.PROJECTOR_PX if projector else geometry.MAP_PX)[1] + 40


class Classes(NamedTuple):
    edges: list[float]  # len(colours) + 1 class edges
    colours: list[str]


def _rgb(hex_colour: str, alpha: int = 220) -> list[int]:
    return [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)] + [alpha]


def _nice_step(span: float, count: int) -> float:
    raw = span / count if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _readable(value: float, how) -> float:
    """The value on two significant digits (2.160 → 2.200, 0,347 → 0,35), so a legend reads
    like a person wrote it; ``how`` rounds, floors or ceils."""
    if value == 0:
        return 0.0
    step = 10 ** (math.floor(math.log10(abs(value))) - 1)
    return round(how(value / step) * step, 10)


def level_classes(values, count: int = len(SEQUENTIAL)) -> Classes:
    """Up to five classes at the quantiles of the values, with readable edges, and no more
    classes than half the distinct values (at least two): a class needs areas to hold.

    Quantiles, not equal steps: kerncijfers are skewed (a few wijken with 30.000 inhabitants,
    many with 2.000), and equal steps then paint almost every wijk in the lowest class. Edges
    are rounded to two significant digits; classes that rounding empties are merged. Callers
    pass every period's values of the gemeente, so switching periods keeps colours comparable.
    """
    values = pd.Series(values, dtype=float).dropna()
    if values.empty:
        return Classes([0.0, 1.0], SEQUENTIAL[:1])
    distinct = values.nunique()
    count = min(count, max(2, distinct // 2)) if distinct > 1 else 1  # two wijken are no five classes
    low, high = float(values.min()), float(values.max())
    # Few distinct values: cut between them (the quantiles of the values themselves would fall on
    # the most frequent one and leave a class empty).
    basis = np.unique(values) if distinct <= 2 * count else values
    inner = [_readable(q, round) for q in np.quantile(basis, np.linspace(0, 1, count + 1)[1:-1])]
    edges = [_readable(low, math.floor)]
    for edge in [*inner, _readable(high, math.ceil)]:
        if edge > edges[-1]:
            edges.append(edge)
    if len(edges) == 1:  # every value the same: one class around it
        edges.append(edges[0] + 10 ** (math.floor(math.log10(abs(high) or 1)) - 1))
    classes = len(edges) - 1
    picks = np.round(np.linspace(0, len(SEQUENTIAL) - 1, classes)).astype(int) if classes > 1 else [2]
    return Classes(edges, [SEQUENTIAL[i] for i in picks])


def change_classes(values, higher_is_better: bool | None) -> Classes:
    """Six classes symmetric around zero; the orange side is the worse direction (a rise in
    afstroom, a fall in opstroom), or simply a rise when neither direction is better."""
    values = pd.Series(values, dtype=float).dropna()
    reach = float(values.abs().max()) if len(values) else 1.0
    step = _nice_step(reach, 3)
    edges = [(i - 3) * step for i in range(7)]
    colours = DIVERGING if higher_is_better else DIVERGING[::-1]
    return Classes(edges, colours)


def colour_of(value: float, classes: Classes) -> str:
    index = int(np.searchsorted(classes.edges, value, side="right")) - 1
    return classes.colours[min(max(index, 0), len(classes.colours) - 1)]


def legend(classes: Classes, unit: str, noun: str, *, change: bool = False) -> list[LegendEntry]:
    """Class labels without repeating the unit; the caller puts the unit in the legend title."""
    fmt = ((lambda v: formatting.difference(v, unit, with_unit=False)) if change
           else (lambda v: formatting.value(v, unit, with_unit=False)))
    entries = [LegendEntry(c, f"{fmt(lo)} tot {fmt(hi)}")
               for c, lo, hi in zip(classes.colours, classes.edges, classes.edges[1:])]
    return entries + [LegendEntry(STATUS_COLOURS[WITHHELD], privacy.reason(noun).capitalize()),
                      LegendEntry(STATUS_COLOURS[MISSING], STATUS_TEXT[MISSING].capitalize())]


def wijk_features(frame: pd.DataFrame, column: str, classes: Classes, describe, noun: str,
                  places: dict[str, str] | None = None, neutral=None) -> list[dict]:
    """GeoJSON features with the texts of the tooltip at top level (deck.gl's tooltip reads the
    picked object, and a feature's properties sit one level down); ``neutral(row)`` says which
    shown wijken get the neutral colour instead of their class."""
    features = []
    for row in frame.itertuples(index=False):
        value = getattr(row, column)
        status = row.status
        fill = (STATUS_COLOURS[status] if status != SHOWN else
                WITHIN_MARGIN if neutral is not None and neutral(row) else colour_of(value, classes))
        waarde, detail = describe(row) if status == SHOWN else (
            privacy.reason(noun) if status == WITHHELD else STATUS_TEXT[MISSING], "")
        features.append({"type": "Feature", "geometry": json.loads(row.geometry),
                         "code": row.code,
                         "naam": f"{row.name}{', ' + places.get(row.gemeente_code, '') if places else ''} ({row.code})",
                         "waarde": waarde, "detail": detail,
                         "fill": _rgb(fill)})
    return features


def school_points(schools: pd.DataFrame) -> pd.DataFrame:
    rows = schools.dropna(subset=["lon", "lat"])
    return pd.DataFrame({"lon": rows["lon"], "lat": rows["lat"], "naam": rows["name"],
                         "waarde": ("PO-school " + rows["code"]).str.strip(), "detail": rows["plaats"].fillna("")})


class CompactDeck(pdk.Deck):
    """pydeck writes its JSON with an indent of two, which tripled the bytes of every map
    Streamlit sends; this writes the same JSON without the whitespace, once: a deck is not
    changed after it is built, and a cached one is sent again on every rerun."""

    def to_json(self):
        if getattr(self, "_json", None) is None:
            self._json = json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))
        return self._json


def name_layer(features: list[dict], view: geometry.Fit, named: frozenset[str] = frozenset()) -> pdk.Layer:
    """The wijk names written on the map where they fit (on two lines if need be), for a room
    that cannot hover.

    Sizes stay deck.gl's default pixels: a ``size_units`` in the spec makes Streamlit's JSON
    converter draw no text at all (streamlit#9488). The font atlas holds the names' own letters
    ("auto"; deck.gl's default is ASCII, without ë or é). pydeck writes a plain string as an
    expression for the browser to evaluate, so the two text settings are marked as strings.
    The wijken in ``named`` (codes: the ones the page's sentence names) are labelled first."""
    names = [f["naam"].rsplit(" (", 1)[0] for f in features]
    first = frozenset(i for i, f in enumerate(features) if f["code"] in named)
    return pdk.Layer("TextLayer", geometry.label_points([json.dumps(f["geometry"]) for f in features], names, view,
                                                        first=first),
                     id="namen", get_position="position", get_text="naam", get_size=16,
                     character_set=pdk.types.String("auto"), font_weight=600,
                     font_family=pdk.types.String('"Source Sans Pro", "Source Sans", Arial, sans-serif'),
                     get_color=[0, 0, 0, 255],
                     background=True, get_background_color=[255, 255, 255, 215], background_padding=[3, 1],
                     pickable=False)


def wijk_map(features: list[dict], bounds=None, *, schools: pd.DataFrame | None = None,
             selected: str | None = None, projector: bool = False, named: frozenset[str] = frozenset()) -> pdk.Deck:
    """The wijken as a choropleth, optionally with the schools on top; for a ``projector`` a
    bigger map (geometry.PROJECTOR_PX) with the wijk names written on it.

    Without a tile server (offline, or GKA_BASEMAP=none) the map shows the polygons on a plain
    background, which is all a choropleth needs; with one, streets help to find a wijk.
    """
    layers = [pdk.Layer("GeoJsonLayer", features, id="wijken", pickable=True, stroked=len(features) <= STROKE_LIMIT,
                        filled=True,
                        get_fill_color="fill", get_line_color=[90, 90, 90, 255], line_width_min_pixels=1,
                        auto_highlight=True, highlight_color=[0, 0, 0, 60])]
    chosen = [f for f in features if f["code"] == selected]
    if chosen:  # the wijk chosen by a click or in the list: a heavy outline, its colour kept
        layers.append(pdk.Layer("GeoJsonLayer", chosen, id="gekozen", pickable=False, stroked=True, filled=False,
                                get_line_color=[0, 0, 0, 255], line_width_min_pixels=4))
    if schools is not None and not schools.empty:
        layers.append(pdk.Layer("ScatterplotLayer", school_points(schools), id="scholen", pickable=True,
                                get_position=["lon", "lat"], get_fill_color=SCHOOL_COLOUR + [230],
                                get_line_color=[255, 255, 255, 255], stroked=True, line_width_min_pixels=1,
                                radius_min_pixels=4, radius_max_pixels=8, get_radius=60))
    view = (geometry.fit(bounds, *(geometry.PROJECTOR_PX if projector else geometry.MAP_PX)) if bounds is not None
            else geometry.Fit(5.3, 52.2, 6))
    if projector and features:
        layers.append(name_layer(features, view, named | {selected} if selected else named))
    basemap = config.basemap()
    return CompactDeck(
        layers=layers, initial_view_state=pdk.ViewState(**view._asdict()),
        map_provider="carto" if basemap else None, map_style="light" if basemap else None,
        tooltip={"html": "<b>{naam}</b><br/>{waarde}<br/><small>{detail}</small>",
                 "style": {"fontSize": "14px", "backgroundColor": "#1f2a36", "color": "white"}})


def _bounds(frame: pd.DataFrame):
    return geometry.bounds(frame["geometry"]) if len(frame) else None


def _unit_text(unit: str, change: bool) -> str:
    if change and unit == "pct":
        return " (procentpunt)"
    suffix = registry.UNITS[unit][2]
    return f" ({suffix})" if suffix else ""


def level_map(values, ind: registry.Indicator, period: str, scale_values, *, schools=None,
              places: dict[str, str] | None = None, selected: str | None = None, projector: bool = False) -> MapView:
    """One period's values; ``scale_values`` (every period of the gemeente) fixes the classes."""
    classes = level_classes(scale_values)
    def describe(row):
        detail = "" if pd.isna(row.n) else f"n = {formatting.number(row.n, 0)} {ind.counted}"
        if not pd.isna(row.low):
            detail += f"; 95 %: {formatting.interval(row.low, row.high, ind.unit)}"
        return formatting.value(row.value, ind.unit), detail

    return MapView(wijk_map(wijk_features(values.frame, "value", classes, describe, ind.counted, places),
                            _bounds(values.frame), schools=schools, selected=selected, projector=projector,
                            named=analysis.named_wijken(values.frame)),
                   legend(classes, ind.unit, ind.counted), f"{ind.label}, {period}{_unit_text(ind.unit, False)}",
                   _height(projector))


def change_map(change, ind: registry.Indicator, before: str, after: str, *, schools=None,
               selected: str | None = None, projector: bool = False) -> MapView:
    """The change per wijk from ``before`` to ``after``, on a diverging palette around zero;
    a change within its margin in white, so the eye goes to the changes that are real."""
    classes = change_classes(change.frame["change"], ind.higher_is_better)

    def describe(row):
        verdict = f", {row.verdict}: 95 % {formatting.interval(row.change_low, row.change_high, ind.unit)}" if row.verdict else ""
        return (f"{formatting.difference(row.change, ind.unit)} ({before} → {after}){verdict}",
                f"{formatting.value(row.before, ind.unit)} → {formatting.value(row.after, ind.unit)}")

    entries = legend(classes, ind.unit, ind.counted, change=True)
    if change.frame["verdict"].eq("binnen de marge").any():
        entries.insert(len(classes.colours), LegendEntry(WITHIN_MARGIN, WITHIN_MARGIN_TEXT))
    return MapView(wijk_map(wijk_features(change.frame, "change", classes, describe, ind.counted,
                                          neutral=lambda row: row.verdict == "binnen de marge"),
                            _bounds(change.frame), schools=schools, selected=selected, projector=projector,
                            named=analysis.named_wijken(change.frame)),
                   entries, f"Verandering {ind.label.lower()} {before} → {after}{_unit_text(ind.unit, True)}",
                   _height(projector))


@cached
def scope_map(engine, scope, level: str, key: str, period: str) -> tuple[MapView, AreaValues]:
    """Every area of one level in the scope, coloured by one period: the national view.

    Cached whole, keyed on the scope like every read: building the features of 2,796 wijken
    takes longer than a click may, and the classes span every period of that level.
    """
    values = area_values(engine, scope, None, key, period, level=level)
    # "Centrum" is a wijk in dozens of gemeenten: on a national map a wijk names its gemeente too.
    names = queries.gemeenten(engine, scope)
    places = dict(zip(names["code"], names["name"])) if level != "gemeente" else None
    return level_map(values, registry.get(key), period, queries.level_values(engine, scope, key, level),
                     places=places), values
