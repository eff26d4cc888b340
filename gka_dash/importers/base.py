"""What every importer shares: reading text tables, parsing numbers, replacing a dataset."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import and_, delete, insert, select

from .. import audit, codes, db
from ..errors import InputError
from ..periods import parse_period
from ..schema import apcg_list, area, dataset, observation, pupil_postcode, school

CHUNK = 500
# How often an estimated DUO '<5' cell is drawn: the figure is the mean over the draws, and their
# spread joins its margin (docs/statistiek.md).
IMPUTATIONS = 40
# ASCII digits only: Python's int() and float() also take '١٠٠', full-width digits and '1_000',
# which no CSV means as a number (and a full-width gemeente code would become a real one).
DUTCH_NUMBER = re.compile(r"^[+-]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]+)(,[0-9]+)?$")
PLAIN_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
NOT_FINITE = re.compile(r"^[+-]?(nan|inf|infinity)$", re.IGNORECASE)
MAX_COUNT = 10**9  # more pupils or inhabitants than the country has is a broken file
MAX_ROWS = 1_000_000  # the largest DUO file has a few hundred thousand rows
# Bounds for a file anyone with the beheer role can upload: the largest real file (CBS buurten
# of the whole country, ~14,500 features, ~20 MB) fits with room to spare.
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_FEATURES = 100_000
OBSERVATION_COLUMNS = ["indicator_key", "subject", "gemeente_code", "period", "period_start", "period_end",
                       "group", "value", "n", "n_estimated", "imputation_var", "dataset_id"]


@dataclass
class ImportReport:
    """What an import did, for the CLI, the beheer page and the audit log."""

    dataset: str
    stored: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what a reader should check
    facts: list[str] = field(default_factory=list)  # what the file held, for information

    def lines(self) -> list[str]:
        stored = ", ".join(f"{count} {what}" for what, count in self.stored.items())
        return ([f"{self.dataset}: opgeslagen: {stored}"] + [f"  {f}" for f in self.facts]
                + [f"  let op: {w}" for w in self.warnings])

    def summary(self) -> str:
        """The report on one line, for a list of files."""
        return "; ".join(line.strip() for line in self.lines())


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise InputError(path.name, "file not found")  # the name only: a message names no server path
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(path.name, f"is {path.stat().st_size / 2**20:.0f} MB; the most an import reads is "
                                    f"{MAX_FILE_BYTES // 2**20} MB")
    check_zip(path)
    data = path.read_bytes()
    if not data.strip():
        raise InputError(path.name, "the file is empty")
    return data


def check_zip(path: Path) -> None:
    """A zip is measured before anything is unpacked: a small file that inflates to gigabytes
    (a zip bomb) is refused by what its directory says, at no cost."""
    if not zipfile.is_zipfile(path):
        if path.suffix.lower() == ".zip":
            raise InputError(path.name, "is not a readable zip (damaged, or not a zip at all)")
        return
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(path.name, f"is not a readable zip ({exc})") from None
    if unpacked > MAX_UNZIPPED_BYTES:
        raise InputError(path.name, f"unpacks to {unpacked / 2**20:.0f} MB; the most an import unpacks is "
                                    f"{MAX_UNZIPPED_BYTES // 2**20} MB")


def decode(data: bytes, file: str, *, allow_latin1: bool) -> str:
    """UTF-8 first; DUO's own files are latin-1, so importers of those may fall back to it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(file, "the file is UTF-16 text; expected UTF-8 (in Excel: 'CSV UTF-8')")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if allow_latin1:
            return data.decode("latin-1")
        row = data[: exc.start].count(b"\n") + 1
        raise InputError(file, f"byte 0x{data[exc.start]:02x} is not UTF-8; expected UTF-8 text "
                               "(in Excel: save as 'CSV UTF-8')", row=row) from None


@dataclass
class TextTable:
    """A CSV read as strings, with the file's own row numbers kept for error messages."""

    file: str
    columns: list[str]
    rows: list[dict[str, str]]  # row["_row"] is the 1-based line number in the file
    decimal_comma: bool

    def require(self, *names: str) -> None:
        missing = [name for name in names if name not in self.columns]
        if missing:
            raise InputError(self.file, f"missing; the file has columns: {', '.join(self.columns)}",
                             column=", ".join(missing))

    def number(self, row: dict, column: str, *, required: bool = True) -> float | None:
        """A number as the file writes it. A ';' file is the Dutch variant: decimal comma and
        thousands dot, so '1.000' is a thousand (never 1) and '1.00' is an error; a ',' file
        writes a decimal point and no thousands separator."""
        text = row.get(column, "").strip()
        if text in ("", ".") or (text.startswith("<") and not required):
            if required:
                raise InputError(self.file, "is empty; expected a number", row=row["_row"], column=column)
            return None
        if self.decimal_comma:
            if not DUTCH_NUMBER.match(text):
                raise InputError(self.file, f"'{text}' is not a number as a ';' file writes it (decimal comma, "
                                            "thousands dot: 1.234,5)", row=row["_row"], column=column)
            candidate = text.replace(".", "").replace(",", ".")
        elif NOT_FINITE.match(text):
            raise InputError(self.file, f"'{text}' is not a finite number", row=row["_row"], column=column)
        elif not PLAIN_NUMBER.match(text):
            raise InputError(self.file, f"'{text}' is not a number", row=row["_row"], column=column)
        else:
            candidate = text
        value = float(candidate)
        if math.isnan(value) or math.isinf(value):
            raise InputError(self.file, f"'{text}' is not a finite number", row=row["_row"], column=column)
        return value

    def count(self, row: dict, column: str, *, required: bool = True) -> int | None:
        """A number of pupils: a whole number, zero or more."""
        value = self.number(row, column, required=required)
        if value is None:
            return None
        if value < 0 or value != int(value):
            raise InputError(self.file, f"'{row[column].strip()}' is not a count (a whole number ≥ 0)",
                             row=row["_row"], column=column)
        if value > MAX_COUNT:
            raise InputError(self.file, f"'{row[column].strip()}' is not a plausible count (at most "
                                        f"{MAX_COUNT:,})".replace(",", "."), row=row["_row"], column=column)
        if "e" in row[column].lower():  # 1e3 is no way to write 1.000 pupils
            raise InputError(self.file, f"'{row[column].strip()}' is not a count written as a whole number",
                             row=row["_row"], column=column)
        return int(value)

    def period(self, row: dict, column: str) -> str:
        try:
            return parse_period(row[column]).label
        except ValueError as exc:
            raise InputError(self.file, str(exc), row=row["_row"], column=column) from None


def read_table(path: Path, *, allow_latin1: bool, normalise=lambda name: name.strip()) -> TextTable:
    """Read a CSV whose separator (',' or ';') is told by its header line.

    ';' files are the Dutch Excel/DUO variant and use a decimal comma.
    """
    data = read_bytes(path)
    text = decode(data, path.name, allow_latin1=allow_latin1)
    if text.count("\n") > MAX_ROWS:
        raise InputError(path.name, f"has more than {MAX_ROWS:,} rows; the most an import reads is "
                                    f"{MAX_ROWS:,}".replace(",", "."))
    header = text.splitlines()[0]
    sep = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        raw_columns = next(reader)
        # Characters no one sees (zero-width spaces, BOMs, directional marks) are no part of a
        # column's name: 'value' and 'value\u200b' are the same column, twice.
        columns = [normalise("".join(ch for ch in unicodedata.normalize("NFKC", name)
                                     if unicodedata.category(ch) != "Cf")) for name in raw_columns]
        twice = sorted({name for name in columns if columns.count(name) > 1})
        if twice:
            raise InputError(path.name, "occurs more than once in the header; expected each column once",
                             row=1, column=", ".join(twice))
        rows = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            line = reader.line_num
            if len(values) != len(columns):
                raise InputError(path.name, f"has {len(values)} fields, the header has {len(columns)}",
                                 row=line)
            row = dict(zip(columns, values))
            row["_row"] = line
            rows.append(row)
    except csv.Error as exc:
        raise InputError(path.name, f"is not valid CSV: {exc}", row=reader.line_num) from None
    if not rows:
        raise InputError(path.name, "has a header but no data rows")
    return TextTable(path.name, columns, rows, decimal_comma=(sep == ";"))


def school_of(table: TextTable, row: dict, brin_col: str, vest_col: str | None = None) -> str:
    """A vestiging's id from a DUO row: BRIN and vestigingsnummer in two columns, or one BRIN6
    column (``vest_col`` None); one line naming the row and column when it is neither."""
    try:
        if vest_col:
            return codes.school_id(row[brin_col], row[vest_col])
        return codes.school_id(row[brin_col].strip()[:4], row[brin_col].strip()[4:])
    except ValueError as exc:
        raise InputError(table.file, str(exc), row=row["_row"], column=vest_col or brin_col) from None


def read_known(path: Path, recognise, expected: str) -> tuple[str, TextTable]:
    """A DUO/CBS text table with its checksum, once its columns say it is what this importer
    reads (``recognise(columns)``); else one line saying what was ``expected``."""
    digest = checksum(read_bytes(path))
    table = read_table(path, allow_latin1=True, normalise=normalise_column)
    if not recognise(table.columns):
        raise InputError(path.name, expected)
    return digest, table


def normalise_column(name: str) -> str:
    """'BRIN NUMMER', 'BRIN.NUMMER' and 'brin_nummer' are one column."""
    return re.sub(r"[^0-9A-Z]+", "_", str(name).strip().upper()).strip("_")


def refuse_demo(conn, file_name: str) -> None:
    """The demo database takes no real data: its accounts and cookie key are published, so real
    figures in it would be open to anyone who read the README. Refusing (rather than quietly
    turning the demo into a real database) keeps the rule simple: real data goes into a
    database of its own, which then needs its own key and has no demo accounts."""
    if db.is_demo_conn(conn):
        raise InputError(file_name, "this is the synthetic demo database, which never holds real data; "
                                    "set GKA_DATABASE_URL to a database of its own (e.g. "
                                    "sqlite:///data/gemeente.sqlite) and import there")


def start_dataset(conn, *, kind: str, name: str, file_name: str, digest: str, rows: int,
                  user: str, synthetic: bool = False) -> int:
    """Replace an earlier import of the same source: re-importing a file is idempotent."""
    if not synthetic:
        refuse_demo(conn, file_name)
    old = conn.execute(select(dataset.c.id).where(and_(dataset.c.kind == kind, dataset.c.name == name))).scalar_one_or_none()
    if old is not None:
        _delete_dataset_rows(conn, old)
    new_id = conn.execute(insert(dataset).values(
        kind=kind, name=name, file_name=file_name, checksum=digest, rows=rows, synthetic=synthetic,
        imported_at=audit.now(), imported_by=user)).inserted_primary_key[0]
    db.bump_data_version(conn)
    audit.log(conn, user, "import", f"{kind}: {name} ({rows} rows, sha256 {digest[:12]})")
    return new_id


def _delete_dataset_rows(conn, dataset_id: int) -> None:
    # Explicit rather than relying on ON DELETE CASCADE, which SQLite only honours per connection.
    for table in (observation, area, school, apcg_list, pupil_postcode):
        conn.execute(delete(table).where(table.c.dataset_id == dataset_id))
    conn.execute(delete(dataset).where(dataset.c.id == dataset_id))


def write_observations(conn, rows: list[dict], dataset_id: int) -> int:
    """Insert observations; a newer value for the same (indicator, subject, period, group) wins."""
    periods = {label: parse_period(label) for label in {row["period"] for row in rows}}
    subjects: dict[tuple, list[str]] = {}
    for row in rows:
        subjects.setdefault((row["indicator_key"], periods[row["period"]].label, row.get("group", "")),
                            []).append(row["subject"])
    # Only series already stored can hold an older value; a first import skips the deletes.
    stored = set(conn.execute(select(observation.c.indicator_key, observation.c.period, observation.c.group)
                              .distinct().where(observation.c.indicator_key.in_({k for k, _, _ in subjects}))))
    for (key, period, group), subjects_of in subjects.items():
        if (key, period, group) not in stored:
            continue
        for i in range(0, len(subjects_of), CHUNK):
            conn.execute(delete(observation).where(
                observation.c.indicator_key == key, observation.c.period == period,
                observation.c.group == group, observation.c.subject.in_(subjects_of[i:i + CHUNK])))
    db.bulk_insert(conn, observation, OBSERVATION_COLUMNS, [
        (row["indicator_key"], row["subject"], row["gemeente_code"], periods[row["period"]].label,
         periods[row["period"]].start, periods[row["period"]].end, row.get("group", ""), _number(row["value"], float),
         _number(row.get("n"), int), _number(row.get("n_estimated"), int), _number(row.get("imputation_var"), float),
         dataset_id) for row in rows])
    return len(rows)


def observation_row(key, subject, gemeente, period, value, n=None) -> dict:
    return {"indicator_key": key, "subject": subject, "gemeente_code": gemeente, "period": period,
            "value": None if value is None else round(float(value), 4), "n": n}


def small_cells(rng, cells: int, chances: np.ndarray | None = None) -> np.ndarray:
    """The pupils in this many DUO '<5' cells, IMPUTATIONS times: each 1-4, with ``chances``
    (how often unmasked cells of 1, 2, 3, 4 occur) or, where nothing is known, equally likely."""
    if not cells:
        return np.zeros(IMPUTATIONS)
    return rng.choice(np.arange(1, 5), size=(IMPUTATIONS, cells), p=chances).sum(axis=1).astype(float)


def estimated_row(key, subject, gemeente, period, values: np.ndarray, ns: np.ndarray, in_masked: float) -> dict:
    """An observation made over imputations: their mean, its n, the pupils in estimated cells,
    and the variance between imputations (Rubin's B, times 1 + 1/m)."""
    spread = float(values.var(ddof=1)) * (1 + 1 / len(values)) if in_masked else 0.0
    return {**observation_row(key, subject, gemeente, period, float(values.mean()), int(round(float(ns.mean())))),
            "n_estimated": int(round(in_masked)) if in_masked else None,
            "imputation_var": round(spread, 6) if in_masked else None}


def _number(value, kind):
    """Plain Python numbers for the driver (COPY refuses "12.0" for an integer, and numpy types)."""
    return None if value is None or value != value else kind(value)
