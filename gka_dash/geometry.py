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


def bounds(geojson) -> tuple[float, float, float, float]:
    return tuple(shapely.total_bounds(shapely.from_geojson(list(geojson))))
