"""The catalogue of approaches for question 3 ("Wat kunnen we doen?") and the partner kinds for
question 4 ("Wie hebben we daarvoor nodig?") of the verdiepend gesprek (issue #27).

An approach is data, not code: the beheerder imports a CSV in the layout of ``docs/aanpakken.md``
and extends or corrects it; the project ships a small starting catalogue
(``gka_dash/data/aanpakken.csv``), each entry with its source and date, described in the
project's own words. A file is validated whole before anything is stored: one clear line names
the file, row, column and what was expected, and the catalogue stays as it was.

Each approach names the dashboard topics it should move (afstroom, schooladvies, …); a
highlight's indicator belongs to a topic, and that is how the gesprek finds the approaches that
fit it, ranked by the strength of their evidence.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import delete, func, insert, select

from .. import audit
from ..errors import InputError
from ..importers.base import ImportReport, read_table
from ..schema import approach

SHIPPED = Path(__file__).resolve().parent.parent / "data" / "aanpakken.csv"
COLUMNS = ("naam", "omschrijving", "domein", "fase", "themas", "factoren", "indicatoren", "doelgroep", "leeftijd",
           "bewijs", "bron", "bron_datum", "partners", "voorbeelden")
DOMAINS = ("thuis", "school", "wijk")
PHASES = ("voorschool", "po", "overgang po-vo", "vo")
# The themes of the 50 GKA-agenda's (GKA voortgangsrapportage 2020), with their numbers of interventions.
THEMES = {"ouderbetrokkenheid": 42, "extra onderwijs": 38, "taalbevordering": 35, "soepele overgangen": 27,
          "mentoring en coaching": 19, "non-cognitieve vaardigheden": 18, "sport en cultuur": 18,
          "professionalisering": 14, "armoede en gezondheid": 11, "loopbaanleren": 10}
FACTORS = ("leerling", "familie", "school", "wijk", "samenleving")  # the five levels of the factors (Verwey-Jonker)
# The dashboard's topics and the indicators that belong to each.
TOPICS = {
    "afstroom": ("afstroom_pct", "opstroom_pct", "vo_afstroom_pct", "vo_afstroom_gemeente_pct", "vo_afstroom_woon_pct",
                 "vo_opstroom_pct", "vo_opstroom_gemeente_pct", "vo_opstroom_woon_pct", "vo_zittenblijven_pct",
                 "vo_zittenblijven_gemeente_pct", "vo_zittenblijven_woon_pct"),
    "schooladvies": ("schooladvies_gem", "schooladvies_havo_vwo_pct", "toetsadvies_gem"),
    "taal": ("eindtoets_gem", "eindtoets_cet", "eindtoets_iep", "eindtoets_route8", "eindtoets_dia", "eindtoets_amn"),
    "ouderopleiding": ("havo_vwo_17_pct",),
    "armoede": ("apcg_pct", "bijstand_per_1000", "pct_hh_laag_inkomen", "pct_hh_sociaal_minimum",
                "inkomen_per_inwoner", "achterstandsscore", "achterstandsscore_per_100", "ww_per_1000"),
    "ouderbetrokkenheid": (),  # no indicator measures it; an approach may still name it
}
# The evidence levels, strongest first: the four of the NJi Databank Effectieve Jeugdinterventies,
# then a described municipal practice that no one has rated.
EVIDENCE = ("effectief volgens sterke aanwijzingen", "effectief volgens goede aanwijzingen",
            "effectief volgens eerste aanwijzingen", "goed onderbouwd", "praktijkvoorbeeld (niet beoordeeld)")
PARTNER_KINDS = ("school", "voorschoolse educatie en kinderopvang", "vervolgonderwijs", "wijk- of buurtteam",
                 "jongerenwerk", "jeugdgezondheidszorg", "leerplicht", "bibliotheek", "sport en cultuur",
                 "schoolmaatschappelijk werk", "ouders")
LIMITS = {"naam": 120, "omschrijving": 600, "doelgroep": 200, "bron": 500}
LINK = re.compile(r"^https://[^\s<>\"']{4,400}$")


class Approach(NamedTuple):
    name: str
    description: str
    domains: tuple[str, ...]
    phases: tuple[str, ...]
    themes: tuple[str, ...]
    factors: tuple[str, ...]
    topics: tuple[str, ...]
    target_group: str
    ages: tuple[int, int] | None
    evidence: str
    source: str
    source_date: str
    partners: tuple[str, ...]
    examples: tuple[tuple[str, str], ...]  # (gemeente, link)

    @property
    def rank(self) -> int:
        """0 for the strongest evidence."""
        return EVIDENCE.index(self.evidence)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split("|") if part.strip()]


def _choices(table, row, column: str, allowed, *, required: bool = True) -> tuple[str, ...]:
    found = [part.lower() for part in _split(row[column])]
    wrong = [part for part in found if part not in allowed]
    if wrong:
        raise InputError(table.file, f"'{wrong[0]}' is not one of: {', '.join(allowed)} (several with '|')",
                         row=row["_row"], column=column)
    if required and not found:
        raise InputError(table.file, f"is empty; expected one or more of: {', '.join(allowed)}", row=row["_row"],
                         column=column)
    return tuple(dict.fromkeys(found))


def _text(table, row, column: str, *, required: bool = True) -> str:
    value = " ".join(row[column].split())
    if required and not value:
        raise InputError(table.file, "is empty; expected text", row=row["_row"], column=column)
    if len(value) > LIMITS.get(column, 200):
        raise InputError(table.file, f"is {len(value)} characters long; at most {LIMITS.get(column, 200)}",
                         row=row["_row"], column=column)
    if value[:1] in ("=", "+", "-", "@"):  # a spreadsheet would run it as a formula when the catalogue is exported
        raise InputError(table.file, f"starts with '{value[0]}'; expected text, not a formula", row=row["_row"],
                         column=column)
    return value


def _ages(table, row) -> tuple[int, int] | None:
    text = row["leeftijd"].strip()
    if not text:
        return None
    found = re.fullmatch(r"(\d{1,2})\s*-\s*(\d{1,2})", text)
    if not found or int(found.group(1)) > int(found.group(2)) or int(found.group(2)) > 27:
        raise InputError(table.file, f"'{text}' is not an age range; expected e.g. 4-12 (years, at most 27)",
                         row=row["_row"], column="leeftijd")
    return int(found.group(1)), int(found.group(2))


def _date(table, row) -> str:
    text = row["bron_datum"].strip()
    try:
        when = date.fromisoformat(text)
    except ValueError:
        raise InputError(table.file, f"'{text}' is not a date; expected YYYY-MM-DD", row=row["_row"],
                         column="bron_datum") from None
    if when > date.today():
        raise InputError(table.file, f"{text} lies in the future; expected the date of the source or when it was "
                                     "consulted", row=row["_row"], column="bron_datum")
    return when.isoformat()


def _source(table, row) -> str:
    text = _text(table, row, "bron")
    if not any(LINK.match(part) for part in text.split()):
        raise InputError(table.file, "names no https:// address; expected the source's name and link",
                         row=row["_row"], column="bron")
    return text


def _examples(table, row) -> tuple[tuple[str, str], ...]:
    found = []
    for part in _split(row["voorbeelden"]):
        gemeente, _, link = part.partition("=")
        if not gemeente.strip() or not LINK.match(link.strip()):
            raise InputError(table.file, f"'{part[:60]}' is not Gemeente=https://…; expected examples as "
                                         "Gemeente=https://adres, several with '|'", row=row["_row"],
                             column="voorbeelden")
        found.append((gemeente.strip()[:80], link.strip()))
    return tuple(found)


def read(path: Path) -> list[Approach]:
    """Every approach in the file, validated; InputError on the first fault."""
    table = read_table(Path(path), allow_latin1=False, normalise=lambda c: c.strip().lower())
    table.require(*COLUMNS)
    found, seen = [], {}
    for row in table.rows:
        entry = Approach(
            _text(table, row, "naam"), _text(table, row, "omschrijving"), _choices(table, row, "domein", DOMAINS),
            _choices(table, row, "fase", PHASES), _choices(table, row, "themas", tuple(THEMES)),
            _choices(table, row, "factoren", FACTORS, required=False), _choices(table, row, "indicatoren", tuple(TOPICS)),
            _text(table, row, "doelgroep", required=False), _ages(table, row),
            _level(table, row),
            _source(table, row), _date(table, row), _choices(table, row, "partners", PARTNER_KINDS),
            _examples(table, row))
        if entry.name.lower() in seen:
            raise InputError(table.file, f"'{entry.name}' is also in row {seen[entry.name.lower()]}; expected each "
                                         "approach once", row=row["_row"], column="naam")
        seen[entry.name.lower()] = row["_row"]
        found.append(entry)
    return found


def _level(table, row) -> str:
    found = _choices(table, row, "bewijs", EVIDENCE)
    if len(found) != 1:
        raise InputError(table.file, f"names several levels; expected one of: {', '.join(EVIDENCE)}",
                         row=row["_row"], column="bewijs")
    return found[0]


def _values(entry: Approach, by: str) -> dict:
    return {"name": entry.name, "description": entry.description, "domains": "|".join(entry.domains),
            "phases": "|".join(entry.phases), "themes": "|".join(entry.themes), "factors": "|".join(entry.factors),
            "topics": "|".join(entry.topics), "target_group": entry.target_group,
            "age_from": entry.ages[0] if entry.ages else None, "age_to": entry.ages[1] if entry.ages else None,
            "evidence": entry.evidence, "source": entry.source, "source_date": entry.source_date,
            "partners": "|".join(entry.partners), "examples": "|".join(f"{g}={link}" for g, link in entry.examples),
            "added_by": by, "added_at": audit.now()}


def import_catalogue(engine, path: Path, *, user: str = "cli") -> ImportReport:
    """Add the file's approaches to the catalogue, replacing entries of the same name, in one
    transaction. The first import into an empty catalogue starts from the shipped one."""
    entries = read(path)
    with engine.begin() as conn:
        if not conn.execute(select(func.count()).select_from(approach)).scalar():
            shipped = read(SHIPPED) if Path(path).resolve() != SHIPPED else []
            entries = [e for e in shipped if e.name.lower() not in {n.name.lower() for n in entries}] + entries
        names = [e.name for e in entries]
        conn.execute(delete(approach).where(func.lower(approach.c.name).in_([n.lower() for n in names])))
        conn.execute(insert(approach), [_values(e, user) for e in entries])
        audit.log(conn, user, "import", f"aanpakken: {Path(path).name} ({len(entries)})")
    return ImportReport(dataset=f"aanpakken ({Path(path).name})", stored={"aanpakken": len(entries)})


def _from_row(row) -> Approach:
    return Approach(row.name, row.description, tuple(_split(row.domains)), tuple(_split(row.phases)),
                    tuple(_split(row.themes)), tuple(_split(row.factors)), tuple(_split(row.topics)), row.target_group,
                    (row.age_from, row.age_to) if row.age_from is not None else None, row.evidence, row.source,
                    row.source_date, tuple(_split(row.partners)),
                    tuple(tuple(p.split("=", 1)) for p in _split(row.examples)))


def catalogue(engine) -> list[Approach]:
    """The catalogue as kept, or the shipped one while nothing has been imported; strongest
    evidence first."""
    with engine.connect() as conn:
        rows = conn.execute(select(approach)).all()
    found = [_from_row(r) for r in rows] if rows else read(SHIPPED)
    return sorted(found, key=lambda a: (a.rank, a.name.lower()))


def topic_of(indicator: str | None) -> str | None:
    return next((topic for topic, keys in TOPICS.items() if indicator in keys), None)


def matching(engine, indicator: str | None, *, phases=(), domains=()) -> list[Approach]:
    """The approaches for a highlight about this indicator: those naming its topic, strongest
    evidence first, optionally only for these phases or domains."""
    topic = topic_of(indicator)
    if topic is None:
        return []
    return [a for a in catalogue(engine) if topic in a.topics
            and (not phases or set(phases) & set(a.phases)) and (not domains or set(domains) & set(a.domains))]


def partner_kinds(found: list[Approach]) -> list[tuple[str, int]]:
    """The partner kinds these approaches need, with how many of them need each, most needed first."""
    counts: dict[str, int] = {}
    for entry in found:
        for kind in entry.partners:
            counts[kind] = counts.get(kind, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], PARTNER_KINDS.index(item[0])))
