"""Map outlines: simplified to what the view can show, never further, and never lost."""

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gka_dash import geometry, queries
from gka_dash.importers.cbs_areas import import_areas
from gka_dash.scope import Scope

from .conftest import raw


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    from gka_dash import db
    engine = db.get_engine(f"sqlite:///{tmp_path_factory.mktemp('geometry') / 'wijk.sqlite'}")
    db.init_db(engine)
    import_areas(engine, raw("tnocs_vr/wijk.geojson"), level="wijk", year=2015)
    return engine


def _pixel(shapes) -> float:
    """A pixel in degrees of latitude at the zoom that fits these shapes, as the map draws them."""
    view = geometry.fit(shapely.total_bounds(shapes))
    return 360 / (512 * 2 ** view.zoom) * math.cos(math.radians(view.latitude))


@pytest.mark.parametrize("gemeente", ["GM0363", None])  # Amsterdam, and all wijken of the Netherlands
def test_outlines_stay_within_a_pixel_of_the_original(stored, gemeente):
    source = gpd.read_file(raw("tnocs_vr/wijk.geojson"))
    if gemeente:
        source = source[source["GM_CODE"] == gemeente]
    shown = queries.areas(stored, Scope.everything(), gemeente)
    assert sorted(shown["code"]) == sorted(source["WK_CODE"])
    original = dict(zip(source["WK_CODE"], source.geometry))
    simplified = shapely.from_geojson(list(shown["geometry"]))
    assert not shapely.is_empty(simplified).any()
    pixel = _pixel(simplified)
    distances = [shapely.hausdorff_distance(original[code], shape) for code, shape in zip(shown["code"], simplified)]
    # A quarter pixel of simplification, 10 m of import simplification, half a unit of rounding.
    detail = geometry.DETAIL_PX if gemeente else geometry.NATIONAL_DETAIL_PX
    assert max(distances) < pixel * detail + 10 / 111_320 + pixel


def test_the_national_view_carries_less_detail_than_one_gemeente(stored):
    everything = queries.areas(stored, Scope.everything(), None)
    amsterdam = queries.areas(stored, Scope.everything(), "GM0363")
    vertices = {code: shapely.get_num_coordinates(shapely.from_geojson(g))
                for code, g in zip(amsterdam["code"], amsterdam["geometry"])}
    national = {code: shapely.get_num_coordinates(shapely.from_geojson(g))
                for code, g in zip(everything["code"], everything["geometry"]) if code in vertices}
    assert sum(national.values()) < 0.5 * sum(vertices.values())
    assert all(national[code] <= vertices[code] for code in vertices)


def test_a_regio_scope_sees_only_its_own_areas_in_the_national_view(stored):
    regio = Scope.of("GM0363", "GM0599")
    codes = set(queries.areas(stored, regio, None)["code"])
    assert codes and {c[2:6] for c in codes} == {"0363", "0599"}


def test_fit_centres_and_zooms_so_the_bounds_fill_the_map():
    view = geometry.fit((4.7, 52.3, 5.0, 52.45))
    assert view.longitude == pytest.approx(4.85) and view.latitude == pytest.approx(52.375)
    width_px = 512 * 2 ** view.zoom * 0.3 / 360
    height_px = 512 * 2 ** view.zoom * 0.15 / 360 / math.cos(math.radians(52.375))
    assert max(width_px / geometry.MAP_PX[0], height_px / geometry.MAP_PX[1]) == pytest.approx(1.0)
    assert np.isfinite(view.zoom)



def test_wijk_names_go_where_they_fit_and_nowhere_else():
    import shapely

    from gka_dash import geometry
    view = geometry.Fit(4.5, 52.0, 11.0)  # about 2.900 px per degree of longitude
    wide = shapely.to_geojson(shapely.box(4.45, 51.98, 4.55, 52.02))  # ~290 × 170 px
    narrow = shapely.to_geojson(shapely.box(4.50, 51.98, 4.505, 52.02))  # ~15 px wide
    found = geometry.label_points([wide, narrow], ["Centrum", "Havengebied Noordoost"], view)
    assert [p["naam"] for p in found] == ["Centrum"]
    assert shapely.from_geojson(wide).contains(shapely.Point(found[0]["position"]))
    long_name = geometry.label_points([wide], ["X" * 40], view)
    assert long_name == []  # 40 letters need ~330 px: wider than the wijk


def test_a_long_name_goes_on_two_lines_where_one_does_not_fit():
    import shapely

    from gka_dash import geometry
    view = geometry.Fit(4.5, 52.0, 11.0)
    middle = shapely.to_geojson(shapely.box(4.48, 51.985, 4.52, 52.015))  # ~116 × 140 px
    found = geometry.label_points([middle], ["Havengebied Noordoost"], view)  # one line: ~176 px
    assert [p["naam"] for p in found] == ["Havengebied\nNoordoost"]
    assert geometry.label_points([middle], ["Centrum"], view)[0]["naam"] == "Centrum"  # one line when it fits
