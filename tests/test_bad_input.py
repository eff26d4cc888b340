"""Every bad input is rejected with one line naming file, row/column and what was expected,
a non-zero exit, and a database whose content is exactly as before."""

import geopandas as gpd
import pytest
from shapely.geometry import Polygon

from gka_dash.cli import main
from gka_dash.demo import build_demo

from .conftest import as_real, raw, snapshot

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


def _indicators(tmp_path, text, **kwargs) -> list[str]:
    return ["import-indicators", str(_csv(tmp_path, text, **kwargs))]


def _geojson(tmp_path, geometries: list[str], name="wijk.geojson", extra: str = "", codes=None) -> list[str]:
    """A wijk layer written as text, so a test can put in what no library would write."""
    codes = codes or [f"WK99010{i}" for i in range(len(geometries))]
    features = ",".join(
        f'{{"type":"Feature","properties":{{"WK_CODE":"{code}","WK_NAAM":"x"{extra}}},"geometry":{g}}}'
        for code, g in zip(codes, geometries))
    path = tmp_path / name
    path.write_text(f'{{"type":"FeatureCollection","features":[{features}]}}')
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


SQUARE = '{"type":"Polygon","coordinates":[[[3.5,52.7],[3.51,52.7],[3.51,52.71],[3.5,52.71],[3.5,52.7]]]}'
ACHTERSTAND = ("brin_vestiging,aantal_bekostigde_leerlingen,achterstandsscore,score_zonder_drempel,"
               "score_zonder_drempel_onderbouw,score_zonder_drempel_bovenbouw,voetnoot\n")
ADVIES = ("brin,schooljaar,vso_n_mid,pro_n_mid,vmbo_b_n_mid,vmbo_b_k_n_mid,vmbo_k_n_mid,vmbo_k_gt_n_mid,vmbo_gt_n_mid,"
          "vmbo_gt_havo_n_mid,havo_n_mid,havo_vwo_n_mid,vwo_n_mid,advies_niet_mogelijk_n_mid,n_mid,pct_havo_vwo_mid\n")
EINDTOETS = "BRIN_NUMMER;VESTIGINGSNUMMER;GEMEENTENUMMER;CET_AANTAL;CET_GEM\n"


def _open_data(tmp_path, text: str, name: str) -> list[str]:
    return ["import-open-data", str(_csv(tmp_path, text, name=name))]


def _many_features(tmp_path):
    """More features than any CBS layer has: refused by counting, before anything is read."""
    one = '{"type":"Feature","properties":{"WK_CODE":"WK990100"},"geometry":{"type":"Point","coordinates":[5,52]}}'
    path = tmp_path / "veel.geojson"
    path.write_text('{"type":"FeatureCollection","features":[' + ",".join([one] * 100_001) + "]}")
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


def _corrupt_zip(tmp_path):
    path = tmp_path / "wijken.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 60)
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


VRT = ('<OGRVRTDataSource><OGRVRTLayer name="wijk"><SrcDataSource>CSV:/etc/passwd</SrcDataSource>'
       '</OGRVRTLayer></OGRVRTDataSource>')


def _map_file(tmp_path, name: str, content: bytes) -> list[str]:
    path = tmp_path / name
    path.write_bytes(content)
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


def _zip_of(tmp_path, members: dict[str, bytes]) -> list[str]:
    import zipfile
    path = tmp_path / "wijken.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


def _sqlite_not_geopackage(tmp_path):
    import sqlite3
    path = tmp_path / "wijk.gpkg"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


def _zip_that_lies_about_its_size(tmp_path):
    """The directory says a few bytes; the member inflates to 64 MB (issue #23: GDAL believed
    the directory and inflated 1,5 GB)."""
    import struct
    import zipfile
    path = tmp_path / "wijken.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("wijk.geojson", b'{"type":"FeatureCollection","features":[' + b" " * 64 * 2**20 + b"]}")
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):  # uncompressed size fields
        at = data.find(signature)
        data[at + offset:at + offset + 4] = struct.pack("<I", 1024)
    path.write_bytes(bytes(data))
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


def _geopackage_with_a_view(tmp_path):
    """The attacker's GeoPackage (issue #23, second round): a layer that is an SQL view, whose
    name column SpatiaLite would fill with /etc/passwd."""
    import sqlite3
    path = tmp_path / "wijk.gpkg"
    _wijk_layer_rd(tmp_path).to_file(path, layer="wijk_2015", driver="GPKG")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIEW wijk_v AS SELECT fid, geom, wk_code, 'x' AS wk_naam FROM wijk_2015")
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


def _geopackage_with_virtual_text(tmp_path):
    import sqlite3
    path = tmp_path / "wijk.gpkg"
    _wijk_layer_rd(tmp_path).to_file(path, layer="wijk_2015", driver="GPKG")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TRIGGER t AFTER INSERT ON wijk_2015 BEGIN SELECT sqlproc_execute('x'); END")
    return ["import-areas", str(path), "--level", "wijk", "--year", "2015"]


FLAT = '{"type":"Polygon","coordinates":[[[3.5,52.7],[3.51,52.7],[3.52,52.7],[3.5,52.7]]]}'

CASES = {
    # case: (argv builder, words the one-line message must contain)
    "csv missing column": (lambda t: _indicators(t, "indicator,subject,period,value,n\n"
                                                    "afstroom_pct,WK990100,2014-2016,12.5,140\n"),
                           ["indicatoren.csv", "column group", "missing"]),
    "non-numeric value": (lambda t: _indicators(t, HEADER + GOOD + "afstroom_pct,WK990101,2014-2016,,abc,140\n"),
                          ["indicatoren.csv", "row 3", "column value", "'abc' is not a number"]),
    "unknown wijk code": (lambda t: _indicators(t, HEADER + GOOD + "afstroom_pct,WK123456,2014-2016,,10,140\n"),
                          ["row 3", "column subject", "unknown wijk 'WK123456'"]),
    "unknown gemeente code": (lambda t: _indicators(t, HEADER + "havo_vwo_17_pct,GM0363,2016,laag,30,200\n"),
                              ["row 2", "column subject", "unknown gemeente 'GM0363'"]),
    "unknown indicator": (lambda t: _indicators(t, HEADER + "kansen_pct,WK990100,2016,,3,40\n"),
                          ["row 2", "column indicator", "unknown indicator 'kansen_pct'"]),
    "value out of range": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016,,112,40\n"),
                           ["row 2", "column value", "outside the range"]),
    "negative n": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016,,12,-4\n"),
                   ["row 2", "column n", "not a count"]),
    "duplicate row": (lambda t: _indicators(t, HEADER + GOOD + GOOD),
                      ["row 3", "duplicate of row 2"]),
    "empty file": (lambda t: _indicators(t, ""), ["indicatoren.csv", "empty"]),
    "wrong encoding (latin-1)": (lambda t: _indicators(t, HEADER + GOOD + "havo_vwo_17_pct,GM9901,2016,hoög,30,200\n",
                                                          encoding="latin-1"),
                                 ["row 3", "not UTF-8"]),
    "wrong encoding (UTF-16)": (lambda t: _indicators(t, HEADER + GOOD, encoding="utf-16"),
                                ["UTF-16", "expected UTF-8"]),
    "truncated GeoJSON": (_truncated_geojson, ["gemeente.geojson", "cannot be read"]),
    "shapefile without .prj": (_shapefile_without_prj, ["wijk_2015.shp", ".prj", "--crs"]),
    "shapefile missing a column": (_shapefile_missing_code_column, ["wijk_2015.shp", "WK_CODE", "missing"]),
    "wrong CRS": (_wrong_crs, ["wijk.geojson", "outside the Netherlands"]),
    "malformed area code": (_bad_area_code, ["row 1", "column WK_CODE", "'WK9901' is not a wijk code"]),
    # Hostile and broken files (issue #14): numbers, counts, periods, text.
    "thousands dot misplaced in a ';' file": (
        lambda t: _indicators(t, HEADER.replace(",", ";") + "afstroom_pct;WK990100;2014-2016;;12,5;1.00\n"),
        ["row 2", "column n", "'1.00' is not a number as a ';' file writes it"]),
    "decimal comma in a ',' file splits the row": (
        lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016,,12,5,140\n"),
        ["row 2", "has 7 fields, the header has 6"]),
    "reversed period": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2016-2014,,12,40\n"),
                        ["row 2", "column period", "'2016-2014' is not a period"]),
    "three-year nonsense period": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016-2018,,12,40\n"),
                                   ["row 2", "column period"]),
    "NaN value": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016,,nan,40\n"),
                  ["row 2", "column value", "not a finite number"]),
    "infinite value": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016,,inf,40\n"),
                       ["row 2", "column value", "not a finite number"]),
    "fractional n": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016,,12,12.5\n"),
                     ["row 2", "column n", "not a count"]),
    "unknown group": (lambda t: _indicators(t, HEADER + "havo_vwo_17_pct,GM9901,2016,heel laag,30,200\n"),
                      ["row 2", "column group", "'heel laag' is not valid"]),
    "header only": (lambda t: _indicators(t, HEADER), ["indicatoren.csv", "no data rows"]),
    "NUL byte in a field": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100\x00,2014-2016,,12,40\n"),
                            ["indicatoren.csv", "row 2"]),
    "formula as a subject": (
        lambda t: _indicators(t, HEADER + 'afstroom_pct,"=HYPERLINK(""http://x"",""klik"")",2014-2016,,12,40\n'),
        ["row 2", "column subject", "unknown wijk"]),
    "negative pupils in achterstandsscores": (lambda t: _open_data(t, ACHTERSTAND + "0BAA00,-40,12,30,10,20,\n",
                                                                   "achterstand.csv"),
                                              ["achterstand.csv", "row 2", "AANTAL_BEKOSTIGDE_LEERLINGEN", "not a count"]),
    "reversed school year in schooladviezen": (lambda t: _open_data(t, ADVIES + "0BAA,2020-2019" + ",1" * 12 + ",12,40.0\n",
                                                                    "adviezen.csv"),
                                               ["adviezen.csv", "row 2", "column SCHOOLJAAR", "not a period"]),
    "negative count in schooladviezen": (lambda t: _open_data(t, ADVIES + "0BAA,2019-2020,1,-1" + ",1" * 10 + ",11,40.0\n",
                                                              "adviezen.csv"),
                                         ["adviezen.csv", "row 2", "PRO_N_MID", "not a count"]),
    "'1.00' pupils in a ';' eindtoets file": (lambda t: _open_data(t, EINDTOETS + "0BAA;00;9901;1.00;535,5\n",
                                                                   "eindtoets.csv"),
                                              ["eindtoets.csv", "row 2", "CET_AANTAL", "not a number as a ';' file"]),
    "eindtoets score off its scale": (lambda t: _open_data(t, EINDTOETS + "0BAA;00;9901;20;601\n", "eindtoets.csv"),
                                      ["eindtoets.csv", "row 2", "CET_GEM", "outside the CET scale"]),
    "five-digit postcode in an APCG list": (lambda t: _open_data(t, "pc4,apcg_2014\n12345,1\n", "apcg.csv"),
                                            ["apcg.csv", "row 2", "column PC4", "'12345' is not a 4-digit postcode"]),
    "APCG flag that is not 0 or 1": (lambda t: _open_data(t, "pc4,apcg_2014\n1011,2\n", "apcg.csv"),
                                     ["apcg.csv", "row 2", "APCG_2014", "not 0 or 1"]),
    "unknown open-data file": (lambda t: _open_data(t, "a,b\n1,2\n", "iets.csv"),
                               ["iets.csv", "not a known DUO/CBS open-data file"]),
    # Hostile and broken map files.
    "points as wijken": (lambda t: _geojson(t, ['{"type":"Point","coordinates":[3.5,52.7]}']),
                         ["wijk.geojson", "row 1", "is a Point", "Polygon"]),
    "lines as wijken": (lambda t: _geojson(t, [SQUARE, '{"type":"LineString","coordinates":[[3.5,52.7],[3.6,52.8]]}']),
                        ["row 2", "is a LineString"]),
    "geometry collection as a wijk": (lambda t: _geojson(t, ['{"type":"GeometryCollection","geometries":[' + SQUARE + "]}"]),
                                      ["row 1", "is a GeometryCollection"]),
    "NaN coordinate": (lambda t: _geojson(t, [SQUARE.replace("[3.51,52.7]", "[NaN,52.7]")]),
                       ["wijk.geojson", "not a number (NaN"]),
    "every feature is water": (lambda t: _geojson(t, [SQUARE, SQUARE], extra=',"H2O":"JA"'),
                               ["wijk.geojson", "every one of its 2 features is water"]),
    "the same wijk twice": (lambda t: _geojson(t, [SQUARE, SQUARE], codes=["WK990100"] * 2), ["WK990100 occurs twice"]),
    "more features than any CBS layer": (_many_features, ["veel.geojson", "100.001 features", "the most an import reads"]),
    "corrupt zip": (_corrupt_zip, ["wijken.zip", "not a readable zip"]),
    "school list with a malformed BRIN": (lambda t: ["import-schools", str(_csv(
        t, "BRIN_NUMMER;VESTIGINGSNUMMER;VESTIGINGSNAAM;GEMEENTENUMMER\n12;00;x;9901\n", name="vestigingen.csv"))],
        ["vestigingen.csv", "'12' is not a BRIN number"]),
    # Files that tried to read the server or fool the readers (issue #23).
    "GDAL virtual file disguised as GeoJSON": (lambda t: _map_file(t, "wijk.geojson", VRT.encode()),
                                               ["wijk.geojson", "is XML", "never read"]),
    "GDAL virtual file in a zip": (lambda t: _zip_of(t, {"wijk.vrt": VRT.encode()}),
                                   ["wijken.zip", "member 'wijk.vrt'", "only map files"]),
    "GDAL virtual file named .geojson in a zip": (lambda t: _zip_of(t, {"wijk.geojson": VRT.encode()}),
                                                  ["wijken.zip", "is XML"]),
    "zip member that points outside the zip": (lambda t: _zip_of(t, {"../../wijk.geojson": b"{}"}),
                                               ["wijken.zip", "points outside the zip"]),
    "zip with two map files": (lambda t: _zip_of(t, {"a.geojson": b"{}", "b.geojson": b"{}"}),
                               ["wijken.zip", "holds 2 map files", "exactly one"]),
    "SQLite database that is not a GeoPackage": (_sqlite_not_geopackage, ["wijk.gpkg", "not a GeoPackage"]),
    "zip whose directory lies about its size": (_zip_that_lies_about_its_size, ["wijken.zip", "not a readable zip"]),
    "GeoJSON that is a shapefile by its bytes": (lambda t: _map_file(t, "wijk.geojson", b"\x00\x00\x27\x0a" + b"\x00" * 96),
                                                 ["wijk.geojson", "holds a ESRI Shapefile file"]),
    "GeoPackage whose layer is an SQL view": (_geopackage_with_a_view, ["wijk.gpkg", "holds an SQL view"]),
    "GeoPackage with SQL that reaches outside": (_geopackage_with_virtual_text, ["wijk.gpkg", "reaches outside the file"]),
    "GeoJSON that declares a GDAL virtual file": (
        lambda t: _map_file(t, "wijk.geojson", b'{"type":"FeatureCollection","x":"<OGRVRTDataSource>"}'),
        ["wijk.geojson", "virtual-file declaration"]),
    "a column twice, once with an invisible character": (
        lambda t: _indicators(t, "indicator,subject,period,group,value,value\u200b,n\n"
                                 "afstroom_pct,WK990100,2014-2016,,12.5,99,140\n"),
        ["indicatoren.csv", "row 1", "column value", "more than once"]),
    "10^23 inhabitants": (lambda t: _indicators(t, HEADER + "inwoners,WK990100,2015,,1e23,\n"),
                          ["row 2", "column value", "outside the range"]),
    "polygon without area": (lambda t: _geojson(t, [FLAT]), ["wijk.geojson", "row 1", "has no area"]),
    "infinite kerncijfer": (lambda t: _geojson(t, [SQUARE], extra=',"AANT_INW":Infinity'),
                            ["wijk.geojson", "row 1", "column AANT_INW", "not a finite, plausible number"]),
    "more inhabitants than the world has": (lambda t: _geojson(t, [SQUARE], extra=',"AANT_INW":1e300'),
                            ["wijk.geojson", "row 1", "column AANT_INW", "not a finite, plausible number"]),
    "a column twice in the header": (lambda t: _indicators(t, "indicator,subject,period,group,value,value,n\n"
                                                              "afstroom_pct,WK990100,2014-2016,,12.5,99,140\n"),
                                     ["indicatoren.csv", "row 1", "column value", "more than once"]),
    "full-width digits in a gemeente code": (lambda t: _indicators(t, HEADER + "havo_vwo_17_pct,GM９９０１,2016,laag,30,200\n"),
                                             ["row 2", "column subject"]),
    "Arabic-Indic digits as a value": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016,,١٢,140\n"),
                                       ["row 2", "column value", "is not a number"]),
    "underscore in a count": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016,,12,1_000\n"),
                              ["row 2", "column n", "is not a number"]),
    "10^23 pupils": (lambda t: _indicators(t, HEADER + "afstroom_pct,WK990100,2014-2016,,12,1e23\n"),
                     ["row 2", "column n", "not a plausible count"]),
    "school list without BRIN column": (lambda t: ["import-schools", str(_csv(t, "VESTIGINGSNUMMER;NAAM\n00AP00;x\n",
                                                                              name="vestigingen.csv"))],
                                        ["vestigingen.csv", "BRIN_NUMMER", "missing"]),
}


def test_the_suite_has_at_least_forty_hostile_or_broken_files():
    assert len(CASES) + len(BOUNDED) >= 40


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_rejected_and_database_unchanged(engine, tmp_path, capsys, case):
    build_demo(engine)  # something worth losing, in a database that takes real imports
    as_real(engine)
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


def _zip_bomb(tmp_path):
    """A small zip whose one member inflates to far more than its own size."""
    import zipfile
    path = tmp_path / "wijken.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("wijk.geojson", "w", force_zip64=True) as member:
            for _ in range(64):
                member.write(b" " * 2**20)
    return path


BOUNDED = {  # with the limits lowered, so the test need not write gigabytes
    "zip bomb": ("MAX_UNZIPPED_BYTES", 32 * 2**20, _zip_bomb, ["wijken.zip", "unpacks to 64 MB"]),
    "file over the size limit": ("MAX_FILE_BYTES", 2**19,
                                 lambda t: _csv(t, HEADER + GOOD * 20_000), ["indicatoren.csv", "the most an import reads"]),
}


@pytest.mark.parametrize("case", BOUNDED)
def test_oversized_input_is_refused_before_it_is_read(sqlite_engine, tmp_path, capsys, monkeypatch, case):
    from gka_dash.importers import base
    limit, value, build, words = BOUNDED[case]
    monkeypatch.setattr(base, limit, value)
    build_demo(sqlite_engine)
    as_real(sqlite_engine)
    before = snapshot(sqlite_engine)
    path = build(tmp_path)
    command = "import-areas" if path.suffix == ".zip" else "import-indicators"
    argv = [command, str(path)] + (["--level", "wijk", "--year", "2015"] if command == "import-areas" else [])
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err
    assert snapshot(sqlite_engine) == before


BEHEER_CASES = {  # the same hostile files through the Beheer page's path: the child process
    "GDAL virtual file": ("import-areas", "wijk.geojson", VRT.encode(), ["--level", "wijk", "--year", "2015"],
                          ["wijk.geojson", "is XML"]),
    "Markdown in a cell": ("import-indicators", "indicatoren.csv",
                           (HEADER + "afstroom_pct,[klik](https://elders.example) ![x](https://elders.example/p.png),"
                                     "2014-2016,,12,40\n").encode(), [], ["indicatoren.csv", "row 2", "column subject"]),
    "10^23 pupils": ("import-indicators", "indicatoren.csv", (HEADER + "afstroom_pct,WK990100,2014-2016,,12,1e23\n").encode(),
                     [], ["row 2", "not a plausible count"]),
}


@pytest.mark.parametrize("case", BEHEER_CASES)
def test_hostile_uploads_through_beheer_give_one_line_without_paths_and_store_nothing(sqlite_engine, tmp_path,
                                                                                     monkeypatch, case):
    from gka_dash.importers import isolated
    from gka_dash.ui.chrome import plain
    build_demo(sqlite_engine)
    as_real(sqlite_engine)
    monkeypatch.setenv("GKA_DATABASE_URL", str(sqlite_engine.url))
    before = snapshot(sqlite_engine)
    command, name, content, options, words = BEHEER_CASES[case]
    path = tmp_path / name
    path.write_bytes(content)
    outcome = isolated.run(command, path, options, by="beheer")
    assert not outcome.ok and len(outcome.lines) == 1
    line = outcome.lines[0]
    assert all(w in line for w in words), line
    assert str(tmp_path) not in line and "/tmp" not in line  # the server's folders are nobody's business
    shown = plain(line)  # what Beheer puts in its error box: no link or image left in it
    assert "](" not in shown.replace("\\]\\(", "")
    assert snapshot(sqlite_engine) == before
