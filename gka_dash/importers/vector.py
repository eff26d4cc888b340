"""The one door through which a map file reaches GDAL.

GDAL opens whatever it recognises: an OGR virtual file (VRT, an XML ``<OGRVRTDataSource>``)
"imports" lines of any file on the server (``/etc/passwd``, the app's database, its secrets)
and makes the server fetch URLs (``/vsicurl/``). So no path goes to GDAL before this module has
looked at the bytes itself and named the one format it expects (GeoJSON, an ESRI shapefile or a
GeoPackage); after GDAL has opened it, the driver it used must be that one. A zip is unpacked
here, member by member, with the bytes counted while they inflate (a directory can lie about
sizes), into a private temporary folder; GDAL never sees ``/vsizip/`` or any other ``/vsi`` path,
and its network access is switched off for the whole process.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pyogrio

from ..errors import InputError
from . import base

# Network access of GDAL, off: every URL-reading virtual file system refuses (no allowed
# extension matches) and anything that still tried would meet a proxy that is not there.
pyogrio.set_gdal_config_options({
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".gka-geen-netwerk",
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "CPL_VSIL_CURL_USE_HEAD": "NO",
})

DRIVERS = {"geojson": "GeoJSON", "shp": "ESRI Shapefile", "gpkg": "GPKG"}
SUFFIX_FORMAT = {".geojson": "geojson", ".json": "geojson", ".shp": "shp", ".gpkg": "gpkg"}
# What a zip of CBS or DUO map files holds: the data files and their sidecars, nothing else.
ZIP_MEMBER_SUFFIXES = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".gpkg", ".geojson",
                       ".json", ".txt", ".pdf", ".csv"}
_COPY_CHUNK = 1024 * 1024
EXPECTED = "expected a GeoJSON, GeoPackage or shapefile (or a zip of one)"


def sniff(path: Path, shown: str | None = None) -> str:
    """The format of a map file from its first bytes ('geojson', 'shp', 'gpkg', 'zip'), or an
    InputError: what GDAL would guess from the content never decides."""
    shown = shown or path.name
    text = str(path)
    if text.startswith("/vsi") or "/vsi" in text:
        raise InputError(shown, f"is a GDAL virtual path; {EXPECTED}")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x00\x00\x27\x0a"):
        return "shp"
    if head.startswith(b"SQLite format 3\x00"):
        if head[68:72] != b"GPKG":
            raise InputError(shown, f"is an SQLite database but not a GeoPackage; {EXPECTED}")
        _plain_geopackage(path, shown)
        return "gpkg"
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if stripped.startswith(b"{"):
        with open(path, "rb") as handle:
            if b"OGRVRTDataSource" in handle.read(VRT_SCAN_BYTES):  # GDAL's VRT driver looks for it anywhere
                raise InputError(shown, f"holds a GDAL virtual-file declaration, which is never read; {EXPECTED}")
        return "geojson"
    if stripped.startswith(b"<"):
        raise InputError(shown, f"is XML (such as a GDAL virtual file), which is never read; {EXPECTED}")
    raise InputError(shown, f"is not a map file this dashboard reads; {EXPECTED}")


VRT_SCAN_BYTES = 1024 * 1024
# SQL that reads outside the file: SpatiaLite's procedures and virtual-table modules (VirtualText
# reads any text file), ATTACH of another database, loading an extension.
_FOREIGN_SQL = re.compile(r"sqlproc|virtual(text|shape|dbf|xl|geojson|ogr|network|routing|knn|elementary|bbox|"
                          r"fdo|gpkg|spatialindex)|\battach\b|load_extension|readfile|writefile|fileio", re.I)


def _plain_geopackage(path: Path, shown: str) -> None:
    """A GeoPackage is an SQLite database, and GDAL opens it with SpatiaLite's functions: a layer
    that is a view can run SQL that reads any file on the server or ATTACHes the app's own
    database. Read its schema here (Python's sqlite3, read-only, no extensions) and accept only
    plain tables, the R-tree index GeoPackages use, and schema SQL that reaches nothing outside."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as conn:
            schema = conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master").fetchall()
    except sqlite3.Error:
        raise InputError(shown, f"is not a readable GeoPackage; {EXPECTED}") from None
    for kind, name, sql in schema:
        if kind == "view":
            raise InputError(shown, f"holds an SQL view ('{name}'); a GeoPackage of areas or schools holds tables only")
        if kind == "table" and sql.upper().startswith("CREATE VIRTUAL TABLE") and " USING RTREE" not in sql.upper():
            raise InputError(shown, f"holds a virtual table ('{name}') other than a spatial index")
        if _FOREIGN_SQL.search(sql):
            raise InputError(shown, f"holds SQL that reaches outside the file ('{name}'); expected plain tables")


def _safe_member(info: zipfile.ZipInfo, shown: str) -> str:
    name = PurePosixPath(info.filename)
    if info.is_dir():
        return ""
    if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
        raise InputError(shown, f"member '{info.filename}' points outside the zip; {EXPECTED}")
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise InputError(shown, f"member '{info.filename}' is a symbolic link, which is never followed")
    if name.suffix.lower() not in ZIP_MEMBER_SUFFIXES:
        raise InputError(shown, f"member '{info.filename}' is a {name.suffix or 'file without extension'}; "
                                f"a zip may hold only map files and their sidecars ({EXPECTED})")
    return name.name


def _unpack(path: Path, into: Path) -> list[Path]:
    """Unpack a zip into ``into``, counting inflated bytes as they come; returns the members."""
    shown = path.name
    written, members = 0, []
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                flat = _safe_member(info, shown)
                if not flat:
                    continue
                target = into / flat
                if target.exists():
                    raise InputError(shown, f"holds two members named '{flat}'; expected one of each")
                with archive.open(info) as source, open(target, "wb") as sink:
                    while chunk := source.read(_COPY_CHUNK):
                        written += len(chunk)
                        if written > base.MAX_UNZIPPED_BYTES:
                            raise InputError(shown, f"unpacks to more than {base.MAX_UNZIPPED_BYTES // 2**20} MB; "
                                                    "the most an import unpacks is "
                                                    f"{base.MAX_UNZIPPED_BYTES // 2**20} MB")
                        sink.write(chunk)
                members.append(target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise InputError(shown, f"is not a readable zip ({type(exc).__name__})") from None
    return members


@contextlib.contextmanager
def local_dataset(path: Path):
    """Yield (GDAL path, format) of a map file whose bytes have been checked; a zip is unpacked
    first and must hold exactly one dataset (one .shp, .gpkg or .geojson)."""
    path = Path(path)
    kind = sniff(path)
    if kind != "zip":
        expected = SUFFIX_FORMAT.get(path.suffix.lower())
        if expected is not None and expected != kind:
            raise InputError(path.name, f"has the extension {path.suffix} but holds a {DRIVERS[kind]} file")
        yield str(path.resolve()), kind  # absolute: GDAL never reads a name as "GPKG:file:layer"
        return
    folder = Path(tempfile.mkdtemp(prefix="gka-zip-"))
    try:
        members = _unpack(path, folder)
        datasets = [m for m in members if m.suffix.lower() in SUFFIX_FORMAT]
        if len(datasets) != 1:
            raise InputError(path.name, f"holds {len(datasets)} map files; expected exactly one "
                                        "(a .shp with its sidecars, a .gpkg or a .geojson)")
        inner = datasets[0]
        inner_kind = sniff(inner, f"{path.name} ({inner.name})")
        if inner_kind == "zip" or SUFFIX_FORMAT[inner.suffix.lower()] != inner_kind:
            raise InputError(path.name, f"member {inner.name} is not the format its extension says")
        yield str(inner), inner_kind
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_driver(used: str, kind: str, shown: str) -> None:
    if used != DRIVERS[kind]:
        raise InputError(shown, f"was opened as {used}; {EXPECTED}")


def read_info(path: Path, layer: str | None = None) -> dict:
    with local_dataset(path) as (where, kind):
        info = pyogrio.read_info(where, layer=layer)
        _check_driver(info["driver"], kind, Path(path).name)
        return info


def list_layers(path: Path) -> list[str]:
    with local_dataset(path) as (where, kind):
        layers = [name for name, _ in pyogrio.list_layers(where)]
        if layers:
            _check_driver(pyogrio.read_info(where, layer=layers[0])["driver"], kind, Path(path).name)
        return layers


def read_frame(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """The features of one layer, read only after the bytes and the driver are what we expect."""
    with local_dataset(path) as (where, kind):
        _check_driver(pyogrio.read_info(where, layer=layer)["driver"], kind, Path(path).name)
        return gpd.read_file(where, layer=layer, engine="pyogrio")
