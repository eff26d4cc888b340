"""Area outlines for a browser map: as much detail as the map can show, and no more.

A map fitted to its areas spans about MAP_PX pixels; an outline is simplified to a fraction of
a pixel at that zoom and its coordinates rounded to match. The level of detail thus follows
the view: one gemeente keeps about the 10 m of the import, and zooming in two steps still
shows no corner cut by more than a pixel; the national view, an overview from which one opens
a gemeente, is simplified to a whole pixel, so all wijken of the Netherlands arrive as a few
hundred KB instead of 12 MB and pan smoothly even where WebGL runs without a GPU.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import shapely

MAP_PX = (800, 480)  # width, height of a map as the pages draw it
PROJECTOR_PX = (1120, 680)  # the same map in presentation mode, for the back of a meeting room
DETAIL_PX = 0.25  # one gemeente
NATIONAL_DETAIL_PX = 1.0  # every gemeente in a scope
MAX_ZOOM = 14.0


class Fit(NamedTuple):
    longitude: float
    latitude: float
    zoom: float


def fit(bounds, width_px: int = MAP_PX[0], height_px: int = MAP_PX[1]) -> Fit:
    """Centre and zoom that show ``bounds`` (lon/lat) in a map of this size.

    Web Mercator at zoom z shows 512·2^z pixels for 360°; a degree of latitude is stretched by
    1/cos(latitude), which is what the second term corrects.
    """
    minx, miny, maxx, maxy = bounds
    stretch = 1 / math.cos(math.radians((miny + maxy) / 2))
    zoom = min(math.log2(360 * width_px / (512 * max(maxx - minx, 1e-4))),
               math.log2(360 * height_px / (512 * max((maxy - miny) * stretch, 1e-4))))
    return Fit((minx + maxx) / 2, (miny + maxy) / 2, max(3.0, min(MAX_ZOOM, zoom)))


def for_map(geojson: list[str], detail_px: float = DETAIL_PX) -> list[str]:
    """The outlines simplified and rounded for a map that shows all of them at once."""
    if not geojson:
        return []
    shapes = shapely.from_geojson(geojson)
    minx, miny, maxx, maxy = shapely.total_bounds(shapes)
    view = fit((minx, miny, maxx, maxy))
    # A pixel in degrees of latitude at the fitted zoom: the finer of the two axes.
    pixel = 360 / (512 * 2 ** view.zoom) * math.cos(math.radians(view.latitude))
    tolerance = pixel * detail_px
    decimals = min(5, max(1, math.ceil(-math.log10(tolerance))))
    simple = shapely.simplify(shapes, tolerance, preserve_topology=True)
    simple = shapely.transform(simple, lambda xy: np.round(xy, decimals))
    # Rounding can collapse a sliver; such an area keeps its stored outline rather than vanish.
    simple = np.where(shapely.area(simple) > 0, simple, shapes)
    return list(shapely.to_geojson(simple))


def _lines(text: str) -> list[list[str]]:
    """The ways to write a name: on one line, or on two split at the space nearest its middle."""
    words = text.split()
    if len(words) < 2:
        return [[text]]
    split = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
    return [[text], [" ".join(words[:split]), " ".join(words[split:])]]


def label_points(geojson: list[str], names: list[str], view: Fit, *, char_px: float = 8.0,
                 line_px: float = 20.0, first: frozenset[int] = frozenset()) -> list[dict]:
    """A place inside each area for its name, for the areas whose inner width and height at this
    view hold the name, on one line or on two (about ``char_px`` pixels a letter and ``line_px``
    a line at 16 px): names where they fit, none on top of another, as a projector needs.

    The areas numbered in ``first`` (the wijken the page names in its sentence) are labelled
    before all others and even where their name is wider than the area, so the room can find
    on the map what the presenter talks about."""
    px_per_degree = 512 * 2 ** view.zoom / 360
    stretch = 1 / math.cos(math.radians(view.latitude))  # a degree of latitude is longer on screen
    shapes = shapely.from_geojson(list(geojson))
    found, boxes = [], []
    for i in sorted(range(len(names)), key=lambda i: i not in first):
        text, shape = names[i], shapes[i]
        centre = shapely.get_point(shapely.maximum_inscribed_circle(shape, 1e-5), 0)
        minx, miny, maxx, maxy = shape.bounds
        across = shape.intersection(shapely.LineString([(minx, centre.y), (maxx, centre.y)]))
        up = shape.intersection(shapely.LineString([(centre.x, miny), (centre.x, maxy)]))
        width_px, height_px = across.length * px_per_degree, up.length * px_per_degree * stretch
        lines = next((lines for lines in _lines(text)
                      if width_px >= max(map(len, lines)) * char_px + 8 and height_px >= len(lines) * line_px + 4),
                     _lines(text)[-1] if i in first else None)
        if not lines:
            continue
        x, y = centre.x * px_per_degree, centre.y * px_per_degree * stretch
        half_w, half_h = max(map(len, lines)) * char_px / 2 + 2, len(lines) * line_px / 2
        box = (x - half_w, y - half_h, x + half_w, y + half_h)
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes):
            continue
        boxes.append(box)
        found.append({"position": [centre.x, centre.y], "naam": "\n".join(lines)})
    return found


def bounds(geojson) -> tuple[float, float, float, float]:
    return tuple(shapely.total_bounds(shapely.from_geojson(list(geojson))))
