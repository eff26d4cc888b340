"""Every bad input is rejected with one line naming file, row/column and what was expected,
a non-zero exit, and a database whose content is exactly as before."""

import geopandas as gpd
import pytest
from shapely.geometry import Polygon

from gka_dash.cli import main
from gka_dash.demo import build_demo

from .conftest import raw, snapshot

HEADER = "indicator,subject,period,group,value,n\n"
GOOD = "afstroom_pct,WK990100,2014-2016,,12.5,140\n"


def _csv(tmp_path, text, name="indicatoren.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _wijk_layer_rd(tmp_path):
    source = gpd.read_file(raw("tnocs_vr/wijk.geojson"))
    return source[source.GM_CODE == "GM0344"].to_crs("EPSG:28992")


def _shapefile_without_prj(tmp_path):
    shp = tmp_path / "wijk_2015.shp"
    _wijk_layer_rd(tmp_path).to_file(shp)
    shp.with_suffix(".prj").unlink()
    return ["import-areas", str(shp), "--level", "wijk", "--year", "2015"]


def _shapefile_missing_code_column(tmp_path):
    shp = tmp_path / "wijk_2015.shp"
    _wijk_layer_rd(tmp_path).drop(columns=["WK_CODE"]).to_file(shp)
    return ["import-areas", str(shp), "--level", "wijk", "--year", "2015"]


def _truncated_geojson(tmp_path):
    text = raw("tnocs_vr/gemeente.geojson").read_text()
    path = tmp_path / "gemeente.geojson"
    path.write_text(text[: len(text) // 2])
    return ["import-areas", str(path), "--level", "gemeente", "--year", "2015"]


def _wrong_crs(tmp_path):
    """RD metres in a file that claims WGS84: the coordinates land far outside the Netherlands."""
    rd = _wijk_layer_rd(tmp_path)
    path = tmp_path / "wijk.geojson"
    rd.set_crs("EPSG:4326", allow_override=True).to_file(path)
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


def _bad_area_code(tmp_path):
    square = Polygon([(5.0, 52.0), (5.01, 52.0), (5.01, 52.01), (5.0, 52.01)])
    path = tmp_path / "wijk.geojson"
    gpd.GeoDataFrame({"WK_CODE": ["WK9901"], "WK_NAAM": ["x"]}, geometry=[square], crs="EPSG:4326").to_file(path)
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


CASES = {
    # case: (argv builder, words the one-line message must contain)
    "csv missing column": (lambda t: ["import-indicators", str(_csv(t, "indicator,subject,period,value,n\n"
                                                                       "afstroom_pct,WK990100,2014-2016,12.5,140\n"))],
                           ["indicatoren.csv", "column group", "missing"]),
    "non-numeric value": (lambda t: ["import-indicators", str(_csv(t, HEADER + GOOD +
                                                                   "afstroom_pct,WK990101,2014-2016,,abc,140\n"))],
                          ["indicatoren.csv", "row 3", "column value", "'abc' is not a number"]),
    "unknown wijk code": (lambda t: ["import-indicators", str(_csv(t, HEADER + GOOD +
                                                                  "afstroom_pct,WK123456,2014-2016,,10,140\n"))],
                          ["row 3", "column subject", "unknown wijk 'WK123456'"]),
    "unknown gemeente code": (lambda t: ["import-indicators", str(_csv(t, HEADER +
                                                                      "havo_vwo_17_pct,GM0363,2016,laag,30,200\n"))],
                              ["row 2", "column subject", "unknown gemeente 'GM0363'"]),
    "unknown indicator": (lambda t: ["import-indicators", str(_csv(t, HEADER + "kansen_pct,WK990100,2016,,3,40\n"))],
                          ["row 2", "column indicator", "unknown indicator 'kansen_pct'"]),
    "value out of range": (lambda t: ["import-indicators", str(_csv(t, HEADER + "afstroom_pct,WK990100,2014-2016,,112,40\n"))],
                           ["row 2", "column value", "outside the range"]),
    "negative n": (lambda t: ["import-indicators", str(_csv(t, HEADER + "afstroom_pct,WK990100,2014-2016,,12,-4\n"))],
                   ["row 2", "column n", "not a count"]),
    "duplicate row": (lambda t: ["import-indicators", str(_csv(t, HEADER + GOOD + GOOD))],
                      ["row 3", "duplicate of row 2"]),
    "empty file": (lambda t: ["import-indicators", str(_csv(t, ""))], ["indicatoren.csv", "empty"]),
    "wrong encoding (latin-1)": (lambda t: ["import-indicators", str(_csv(t, HEADER + GOOD +
                                                                         "havo_vwo_17_pct,GM9901,2016,hoög,30,200\n",
                                                                         encoding="latin-1"))],
                                 ["row 3", "not UTF-8"]),
    "wrong encoding (UTF-16)": (lambda t: ["import-indicators", str(_csv(t, HEADER + GOOD, encoding="utf-16"))],
                                ["UTF-16", "expected UTF-8"]),
    "truncated GeoJSON": (_truncated_geojson, ["gemeente.geojson", "cannot be read"]),
    "shapefile without .prj": (_shapefile_without_prj, ["wijk_2015.shp", ".prj", "--crs"]),
    "shapefile missing a column": (_shapefile_missing_code_column, ["wijk_2015.shp", "WK_CODE", "missing"]),
    "wrong CRS": (_wrong_crs, ["wijk.geojson", "outside the Netherlands"]),
    "malformed area code": (_bad_area_code, ["row 1", "column WK_CODE", "'WK9901' is not a wijk code"]),
    "school list without BRIN column": (lambda t: ["import-schools", str(_csv(t, "VESTIGINGSNUMMER;NAAM\n00AP00;x\n",
                                                                              name="vestigingen.csv"))],
                                        ["vestigingen.csv", "BRIN_NUMMER", "missing"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_rejected_and_database_unchanged(engine, tmp_path, capsys, case):
    build_demo(engine)  # something worth losing
    before = snapshot(engine)
    argv_builder, words = CASES[case]
    argv = argv_builder(tmp_path)
    capsys.readouterr()
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    assert snapshot(engine) == before
