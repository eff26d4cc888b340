"""Test files in the layouts DUO and CBS publish (docs/bronnen.md says where each was checked):
column names and order, separator, encoding and the quirks of each era, so the importers are
tried on what a gemeente's analyst downloads, not on what our own code would write."""

from __future__ import annotations

import json
from pathlib import Path

PO_OLD_HEAD = ["PEILDATUM", "GEMEENTENUMMER", "GEMEENTENAAM", "POSTCODE_LEERLING", "GEMEENTENAAM_LEERLING",
               "BRIN_NUMMER", "VESTIGINGSNUMMER", "INSTELLINGSNAAM_VESTIGING", "POSTCODE_VESTIGING", "PLAATSNAAM",
               "PROVINCIE", "SOORT_PO", "DENOMINATIE_VESTIGING", "BEVOEGD_GEZAG_NUMMER"]
L_AGES = ["L3_MIN", *[f"L{age}" for age in range(4, 25)], "L25_PLUS"]  # 2015-2016 … 2022-2023, then TOTAAL
LEEFTIJD_AGES = [f"LEEFTIJD_{age}_JAAR" for age in range(3, 26)]  # the per-gemeente files before, no TOTAAL
NEW_AGES = [f"LEEFTIJD_{age}" for age in range(4, 14)]  # from 2023-2024: '<5' for 1-4
POPOSTCODE4_HEAD = ["INSTELLINGSCODE", "VESTIGINGSCODE", "TYPE_PO", "PEILJAAR", "POSTCODE4_DEELNEMER",
                    "AANTAL_LEERLINGEN"]
VO_POSTCODE_HEAD = ["BRIN NUMMER", "VESTIGINGSNUMMER", "POSTCODE LEERLING", "PLAATSNAAM LEERLING",
                    "GEMEENTENAAM LEERLING", "GEMEENTENUMMER LEERLING",
                    *[f"LEER- OF VERBLIJFSJAAR {n}" for n in range(1, 7)]]
DOORSTROOM_HEAD = ["INSTELLINGSCODE", "VESTIGINGSCODE", "INSTELLINGSNAAM VESTIGING", "GEMEENTENAAM", "PROVINCIE",
                   "AANTAL_LEERLINGEN", "AANTAL_ZITTENBLIJVERS", "PERCENTAGE_ZITTENBLIJVERS", "AANTAL_OPSTROMERS",
                   "PERCENTAGE_OPSTROMERS", "AANTAL_AFSTROMERS", "PERCENTAGE_AFSTROMERS"]


def _write(path: Path, head: list[str], rows: list[list], *, sep: str, encoding: str) -> Path:
    lines = [sep.join(head)] + [sep.join(str(v) for v in row) for row in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def po_postcode_old(path: Path, cells: list[dict], *, era: str = "L") -> Path:
    """"03. Leerlingen po per gemeente, postcode leerling en leeftijd": ';', latin-1, one row per
    vestiging × home postcode. ``cells``: school (BRIN+2), gemeente number as DUO writes it, pc4
    (text or number), ages {age: count} (or '<5'), peildatum. era "L" (L3_MIN … TOTAAL),
    "LEEFTIJD" (LEEFTIJD_n_JAAR, no TOTAAL) or "2023" (INSTELLINGSCODE, LEEFTIJD_n, '<5')."""
    ages = {"L": L_AGES, "LEEFTIJD": LEEFTIJD_AGES, "2023": NEW_AGES}[era]
    head = PO_OLD_HEAD + ages + (["TOTAAL"] if era != "LEEFTIJD" else [])
    if era == "2023":
        head = [{"BRIN_NUMMER": "INSTELLINGSCODE", "VESTIGINGSNUMMER": "VESTIGINGSCODE"}.get(c, c) for c in head]
    rows = []
    for c in cells:
        counts = [c["ages"].get(_age(col), 0) for col in ages]
        total = c.get("total", sum(v for v in counts if isinstance(v, int)))
        rows.append([c.get("peildatum", "20151001"), c.get("gemeentenummer", "0599"), "ROTTERDAM", c["pc4"],
                     c.get("gemeente_leerling", "ROTTERDAM"), c["school"][:4], c.get("vest", c["school"][4:]),
                     c.get("naam", "Basisschool De Catamaran"), "3011AB", "ROTTERDAM", "Zuid-Holland",
                     c.get("soort", "Bo" if era == "2023" else "BO"), "Openbaar", "41234", *counts]
                    + ([total] if era != "LEEFTIJD" else []))
    return _write(path, head, rows, sep=";", encoding="latin-1")


def _age(column: str) -> int:
    digits = "".join(ch if ch.isdigit() else " " for ch in column).split()
    return int(digits[0])


def popostcode4(path: Path, cells: list[tuple]) -> Path:
    """The open-data portal's popostcode4 (brin6_pc4.csv): ',' and UTF-8, every peiljaar in one
    file; cells (INSTELLINGSCODE, VESTIGINGSCODE, TYPE_PO, PEILJAAR, POSTCODE4_DEELNEMER, AANTAL)."""
    return _write(path, POPOSTCODE4_HEAD, [list(c) for c in cells], sep=",", encoding="utf-8")


def vo_postcode(path: Path, cells: list[tuple]) -> Path:
    """"02. Leerlingen per vestiging naar postcode leerling en leerjaar" (the year in the file
    name): ';', latin-1; cells (BRIN, vestiging, pc4, plaats, gemeente, gemeentenummer, [6 counts])."""
    return _write(path, VO_POSTCODE_HEAD, [[*c[:6], *c[6]] for c in cells], sep=";", encoding="latin-1")


def doorstroom(path: Path, cells: list[tuple]) -> Path:
    """"05. Zittenblijven VO" per vestiging (the years in the file name): ';', latin-1, decimal comma;
    cells (BRIN, vestiging, naam, gemeente, pupils, zittenblijvers, opstromers, afstromers)."""
    rows = []
    for brin, vest, name, gemeente, pupils, stay, up, down in cells:
        pct = [_pct(v, pupils) for v in (stay, up, down)]
        rows.append([brin, vest, name, gemeente, "Zuid-Holland", pupils, stay, pct[0], up, pct[1], down, pct[2]])
    return _write(path, DOORSTROOM_HEAD, rows, sep=";", encoding="latin-1")


def _pct(count, pupils) -> str:
    return "" if not (isinstance(count, int) and isinstance(pupils, int)) else f"{count / pupils * 100:.1f}".replace(".", ",")


def statline_rows(year_keys: dict[str, int], regions: list[dict]) -> list[dict]:
    """Rows as ``cbsodata.get_data`` returns them (untyped): every key with its numeric suffix of
    that year's table, the region dimension replaced by its title, codes padded to 10 characters,
    missing values '       .'."""
    rows = []
    for i, region in enumerate(regions):
        row = {"ID": i, "WijkenEnBuurten": region["name"], "Gemeentenaam_1": f"{region['gemeente']:<40}",
               "SoortRegio_2": f"{region['kind']:<10}", "Codering_3": f"{region['code']:<10}"}
        for stem, suffix in year_keys.items():
            value = region.get(stem)
            row[f"{stem}_{suffix}"] = "       ." if value is None else f"{value:>8}"
        rows.append(row)
    return rows


def statline_json(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def pupils_near_schools(schools, *, peildatum: str, era: str, seed: int) -> list[dict]:
    """Cells for real schools (a frame with id and postcode): most pupils from the school's own
    PC4, the rest from the PC4s of the gemeente's other schools; in the 2023 era some '<5'."""
    import numpy as np
    rng = np.random.default_rng(seed)
    pc4s = sorted({str(p)[:4] for p in schools["postcode"] if isinstance(p, str) and p[:4].isdigit()})
    cells = []
    for sid, postcode in zip(schools["id"], schools["postcode"]):
        own = str(postcode)[:4] if isinstance(postcode, str) and postcode[:4].isdigit() else pc4s[0]
        others = [p for p in rng.choice(pc4s, size=min(4, len(pc4s)), replace=False) if p != own]
        for pc4, size in [(own, int(rng.integers(60, 200)))] + [(p, int(rng.integers(1, 40))) for p in others]:
            if era == "2023" and size < 5:
                cells.append({"school": sid, "pc4": pc4, "ages": {4: "<5"}, "total": "<5", "peildatum": peildatum})
            else:
                ages = {age: 0 for age in range(4, 13)}
                for i in range(size):
                    ages[4 + i % 9] += 1
                cells.append({"school": sid, "pc4": pc4, "ages": ages, "peildatum": peildatum})
    return cells
