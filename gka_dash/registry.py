"""The indicator registry: what each figure means, where it comes from, what values are valid.

The code is the source of truth; :func:`sync` mirrors it into the ``indicator`` table so that
the database explains itself to anyone who opens it without this code.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert

from .schema import indicator as indicator_table

OUDEROPLEIDING_GROUPS = ("laag", "midden", "hoog")

# One numeric scale for advices (glossary: combinations sit halfway between their two types).
ADVIES_SCALE = {
    "pro": 1.0, "vmbo_b": 2.0, "vmbo_b_k": 2.5, "vmbo_k": 3.0, "vmbo_k_gt": 3.5, "vmbo_gt": 4.0,
    "vmbo_gt_havo": 4.5, "havo": 5.0, "havo_vwo": 5.5, "vwo": 6.0,
}
ADVIES_SCALE_TEXT = ("1 = praktijkonderwijs, 2 = vmbo-b, 3 = vmbo-k, 4 = vmbo-gt, 5 = havo, 6 = vwo; "
                     "een gecombineerd advies (bijv. havo/vwo = 5,5) ligt halverwege")

# DUO writes counts of 1-4 as '<5' in the schooladviezen from this school year on (SOURCES.md):
# a method break in every series that crosses it.
METHOD_BREAK = "2022-2023"

UNITS = {  # unit → (lowest valid, highest valid, Dutch suffix shown after a value)
    "pct": (0.0, 100.0, "%"),
    "advies": (1.0, 6.0, ""),
    "count": (0.0, None, ""),
    "per_1000": (0.0, 1000.0, "per 1.000 inw."),
    "per_km2": (0.0, None, "per km²"),
    "keur": (0.0, 1000.0, "× € 1.000"),
    "sted": (1.0, 5.0, ""),
    "persons": (0.0, 20.0, "personen"),
    "z": (-10.0, 10.0, "sd"),
    "score": (0.0, None, ""),
    "flag": (0.0, 1.0, ""),
}

CBS_KWB = "CBS, Wijk- en buurtkaart / Kerncijfers wijken en buurten"
DUO_OPEN = "DUO open onderwijsdata"
MICRODATA = "CBS/DUO maatwerktabel voor de gemeente (microdata), ingelezen via het lange CSV-formaat"


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    unit: str
    level: str  # area (gemeente/wijk/buurt kerncijfers), wijk, school, gemeente
    source: str
    description: str
    higher_is_better: bool | None = None
    restricted: bool = False
    caveat: str = ""
    groups: tuple[str, ...] = ("",)
    cbs_column: str | None = None  # kerncijfers column this context figure comes from
    per_1000_of: str | None = None  # a count column divided by AANT_INW × 1000
    per_brin: bool = False  # published for a BRIN as a whole (all its vestigingen), shown at the hoofdvestiging
    min_n: int = 0  # fewer counted than this and the figure says nothing (on top of the privacy threshold)

    @property
    def counted(self) -> str:
        """What n counts: named in 'n = 1.234 …' and in the reason a value is withheld."""
        return {"area": "inwoners", "gemeente": "jongeren"}.get(self.level, "leerlingen")

    @property
    def bounds(self) -> tuple[float, float | None]:
        low, high, _ = UNITS[self.unit]
        return low, high


# CBS rounds the benefit counts of the kerncijfers to tens: in a wijk of 100 inhabitants a rate per
# 1.000 moves in steps of 100 and "0,0 per 1.000" means fewer than five. Rates from such counts are
# withheld below this many inhabitants (steps of 20 per 1.000 at most).
MIN_INHABITANTS_FOR_RATE = 500


def _context(key, label, unit, column, description, *, per_1000=False, hib=None):
    return Indicator(
        key=key, label=label, unit=unit, level="area", source=CBS_KWB, description=description,
        higher_is_better=hib, cbs_column=None if per_1000 else column,
        per_1000_of=column if per_1000 else None,
        caveat="CBS houdt kleine aantallen geheim; die wijken staan als 'onbekend'."
               + (f" CBS rondt de aantallen af op tientallen; wijken met minder dan {MIN_INHABITANTS_FOR_RATE} "
                  "inwoners krijgen daarom geen cijfer per 1.000." if per_1000 else ""),
        min_n=MIN_INHABITANTS_FOR_RATE if per_1000 else 0,
    )


_INDICATORS = [
    Indicator("afstroom_pct", "Afstroom in het vo", "pct", "wijk", MICRODATA,
              "Aandeel leerlingen uit de wijk dat in het vo een leerjaar opging naar een lager "
              "schooltype (bijv. havo 3 → vmbo-gt 4), over een periode van twee schooljaren.",
              higher_is_better=False, restricted=True,
              caveat="Woonwijk van de leerling, niet de wijk van de school. Kleine wijken worden "
                     "onderdrukt."),
    Indicator("opstroom_pct", "Opstroom in het vo", "pct", "wijk", MICRODATA,
              "Aandeel leerlingen uit de wijk dat een leerjaar opging naar een hoger schooltype.",
              higher_is_better=True, restricted=True),
    Indicator("toetsadvies_gem", "Gemiddeld toetsadvies", "advies", "school", MICRODATA,
              "Gemiddeld advies dat volgt uit de eindtoets, op de schaal " + ADVIES_SCALE_TEXT + ".",
              higher_is_better=True, restricted=True),
    Indicator("schooladvies_gem", "Gemiddeld schooladvies", "advies", "school",
              DUO_OPEN + " (Schooladviezen; per BRIN)",
              "Gemiddeld schooladvies van groep 8, op de schaal " + ADVIES_SCALE_TEXT + "; vso en "
              "'advies niet mogelijk' tellen niet mee. Berekend uit de aantallen per advies.",
              higher_is_better=True, per_brin=True,
              caveat="DUO publiceert per BRIN (alle vestigingen samen); getoond bij de hoofdvestiging. "
                     "Vanaf 2022-2023 schrijft DUO aantallen van 1 tot 4 als '<5': die cellen zijn geschat "
                     "(uit de verdeling van kleine aantallen in de jaren ervoor), en de marge telt die "
                     "schatting mee."),
    Indicator("schooladvies_havo_vwo_pct", "Schooladvies havo of hoger", "pct", "school",
              DUO_OPEN + " (Schooladviezen; per BRIN)",
              "Aandeel leerlingen van groep 8 met een schooladvies havo, havo/vwo of vwo, van alle "
              "leerlingen met een schooladvies (vso en 'advies niet mogelijk' inbegrepen). Een "
              "gecombineerd advies vmbo-gt/havo telt niet mee. Berekend uit de aantallen per advies.",
              higher_is_better=True, per_brin=True,
              caveat="Per BRIN (alle vestigingen samen), getoond bij de hoofdvestiging. Vanaf 2022-2023 "
                     "zijn DUO's '<5'-cellen geschat; de marge telt die schatting mee, en een vergelijking "
                     "over 2022-2023 heen overbrugt die methodebreuk."),
    Indicator("schooladvies_andere_naam", "Naam in adviezenbestand wijkt af", "flag", "school",
              DUO_OPEN + " (Schooladviezen; per BRIN)",
              "1 als de naam die het adviezenbestand bij de BRIN geeft geen woord deelt met de naam van "
              "de hoofdvestiging in de scholenlijst: het BRIN-nummer kan een andere school zijn geworden.",
              caveat="Alleen een controle; zo'n school wordt in het gesprek niet bij naam genoemd."),
    Indicator("apcg_pct", "Leerlingen uit APCG", "pct", "school",
              DUO_OPEN + " (Leerlingen po naar postcode leerling) met de APCG-postcodelijst van OCW",
              "Aandeel leerlingen van de school dat woont in een armoedeprobleemcumulatiegebied "
              "(APCG): een maat voor de sociaal-economische positie van de leerlingen. Geteld uit DUO's "
              "aantallen leerlingen per vestiging en woonpostcode (PC4), met per schooljaar de nieuwste "
              "APCG-lijst die niet later is dan dat schooljaar. Leerlingen zonder Nederlandse postcode "
              "tellen niet mee.",
              caveat="Een APCG is een postcodegebied (PC4) met veel armoede: niet elke leerling uit zo'n "
                     "gebied is arm. Vanaf eind 2023 schrijft DUO aantallen van 1 tot 4 als '<5'; die cellen "
                     "zijn geschat en de marge telt die schatting mee."),
    Indicator("apcg_postcode", "School ligt in APCG-postcode", "flag", "school",
              "Regeling Leerplusarrangement VO, bijlage 5 (lijsten L+A 2011-2012 en 2014)",
              "1 als de school zelf in een APCG-postcodegebied (PC4) staat.",
              caveat="Dit is NIET het percentage leerlingen uit een APCG: alleen de ligging van "
                     "het schoolgebouw. Het echte % APCG-leerlingen komt uit microdata."),
    Indicator("eindtoets_gem", "Eindtoets (in sd van leerlingen)", "z", "school",
              DUO_OPEN + " (Gemiddelde eindscores)",
              "Gemiddelde eindtoetsscore, per toetsaanbieder omgerekend naar standaardafwijkingen van "
              "leerlingen (0 = gemiddelde van alle leerlingen met die toets in het reguliere "
              "basisonderwijs; 1 = de spreiding tussen leerlingen, bij de Centrale Eindtoets 2019 "
              "ongeveer 9,9 punten) en gewogen naar het aantal leerlingen per toets, zodat scholen met "
              "verschillende toetsen vergelijkbaar zijn. Speciaal basisonderwijs telt niet mee.",
              higher_is_better=True,
              caveat="Vergelijkt de positie binnen de eigen toets; toetsen met een andere "
                     "leerlingpopulatie kunnen iets verschuiven."),
    Indicator("achterstandsscore", "Achterstandsscore (CBS)", "score", "school",
              "CBS voor OCW, Achterstandsscores basisscholen (peildatum 1 oktober 2019)",
              "Onderwijsachterstandsscore van de school met drempel: de grondslag voor de "
              "achterstandsmiddelen. Hoger = meer verwachte achterstand.",
              higher_is_better=False,
              caveat="Totaal voor de school, groeit dus met het aantal leerlingen. Voetnoot a: "
                     "scholen met ≤ 40 leerlingen, onbetrouwbaar."),
    Indicator("achterstandsscore_per_100", "Achterstandsscore per 100 leerlingen", "score",
              "school", "CBS voor OCW, Achterstandsscores basisscholen (peildatum 1 oktober 2019)",
              "Score zonder drempel per 100 bekostigde leerlingen: vergelijkbaar tussen grote en "
              "kleine scholen.", higher_is_better=False),
    Indicator("havo_vwo_17_pct", "17-jarigen in havo/vwo of hoger", "pct", "gemeente", MICRODATA,
              "Aandeel 17-jarigen dat havo/vwo volgt of in het hoger onderwijs zit, naar de "
              "hoogst behaalde opleiding van de ouders (laag, midden, hoog).",
              higher_is_better=True, restricted=True, groups=OUDEROPLEIDING_GROUPS),
    Indicator("gka_gemeente", "Gemeente in de Gelijke Kansen Alliantie", "flag", "gemeente",
              "gelijke-kansen.nl (nieuwsberichten over de GKA-gemeenten; zie SOURCES.md)",
              "1 als de gemeente deelneemt aan de Gelijke Kansen Alliantie; de periode is het jaar "
              "van de GKA-agenda. Bepaalt de vergelijkingsgroep 'GKA-gemeenten'.",
              caveat="De openbare lijst is onvolledig (33 van de 50 gemeenten bekend)."),
    *[Indicator(f"vo_{kind}{suffix}", label.format(word=word), "pct", level, DUO_OPEN + " (Zittenblijven vo)",
                description.format(what=what), higher_is_better=better, caveat=caveat)
      for kind, word, what, better in (
          ("afstroom", "Afstroom", "een leerjaar opging naar een lager schooltype", False),
          ("opstroom", "Opstroom", "een leerjaar opging naar een hoger schooltype", True),
          ("zittenblijven", "Zittenblijven", "in hetzelfde leerjaar en schooltype bleef", False))
      for suffix, level, label, description, caveat in (
          ("_pct", "school", "{word} op de vo-school",
           "Aandeel leerlingen van de vo-vestiging dat van het ene schooljaar op het volgende {what} "
           "(peildata 1 oktober), zoals DUO het telt: van alle leerlingen van de vestiging in het eerste "
           "schooljaar (DUO's AANTAL_LEERLINGEN).",
           "Per school, niet per woonwijk. '<5'-cellen van DUO zijn geschat; de marge telt die schatting mee."),
          ("_gemeente_pct", "gemeente", "{word} op vo-scholen in de gemeente",
           "Aandeel leerlingen van de vo-scholen die in de gemeente staan dat van het ene schooljaar op "
           "het volgende {what}: alle vestigingen samen.",
           "Naar de plaats van de school: ook leerlingen uit andere gemeenten, niet de leerlingen die "
           "buiten de gemeente naar school gaan."),
          ("_woon_pct", "gemeente", "{word} van vo-leerlingen uit de gemeente (schatting)",
           "Schatting voor de leerlingen die in de gemeente wonen: elke vo-school telt mee naar het "
           "aantal leerlingen dat zij uit de gemeente heeft (DUO, leerlingen per vestiging naar postcode), "
           "met het percentage dat op die school {what}.",
           "Een schatting: zij neemt aan dat de leerlingen uit de gemeente op hun school even vaak op- en "
           "afstromen als de andere leerlingen daar. DUO publiceert de doorstroom niet naar woonplaats; "
           "alleen de CBS-microdata geven die precies."))],
    _context("inwoners", "Inwoners", "count", "aant_inw", "Aantal inwoners op 1 januari."),
    _context("pct_0_14_jr", "Inwoners 0-14 jaar", "pct", "p_00_14_jr",
             "Aandeel inwoners van 0 tot 15 jaar."),
    _context("pct_niet_westers", "Niet-westerse migratieachtergrond", "pct", "p_n_w_al",
             "Aandeel inwoners met een niet-westerse migratieachtergrond."),
    _context("bevolkingsdichtheid", "Bevolkingsdichtheid", "per_km2", "bev_dichth",
             "Inwoners per km² land."),
    _context("stedelijkheid", "Stedelijkheid", "sted", "sted",
             "1 = zeer sterk stedelijk … 5 = niet stedelijk (omgevingsadressendichtheid)."),
    _context("pct_hh_met_kinderen", "Huishoudens met kinderen", "pct", "p_hh_m_k",
             "Aandeel huishoudens met kinderen."),
    _context("gem_huishoudgrootte", "Gemiddelde huishoudgrootte", "persons", "gem_hh_gr",
             "Gemiddeld aantal personen per huishouden."),
    _context("inkomen_per_inwoner", "Gemiddeld inkomen per inwoner", "keur", "ink_inw",
             "Gemiddeld persoonlijk inkomen per inwoner, in duizenden euro's (CBS, Regionaal "
             "Inkomensonderzoek; twee jaar na het peiljaar gepubliceerd)."),
    _context("pct_hh_laag_inkomen", "Huishoudens met een laag inkomen", "pct", "p_lik_hh",
             "Aandeel particuliere huishoudens met een inkomen onder de lage-inkomensgrens van CBS."),
    _context("pct_hh_sociaal_minimum", "Huishoudens onder of rond het sociaal minimum", "pct", "p_socminh",
             "Aandeel particuliere huishoudens met een inkomen tot 110 % van het sociaal minimum. CBS "
             "publiceert dit tot en met 2023; vanaf 2024 een andere armoedemaat, niet vergelijkbaar."),
    _context("bijstand_per_1000", "Bijstandsuitkeringen", "per_1000", "wwb_uittot",
             "Bijstandsuitkeringen (WWB) per 1.000 inwoners.", per_1000=True),
    _context("ww_per_1000", "WW-uitkeringen", "per_1000", "ww_uit_tot",
             "Werkloosheidsuitkeringen per 1.000 inwoners.", per_1000=True),
    _context("ao_per_1000", "Arbeidsongeschiktheidsuitkeringen", "per_1000", "ao_uit_tot",
             "Arbeidsongeschiktheidsuitkeringen per 1.000 inwoners.", per_1000=True),
]

EINDTOETS_PROVIDERS = {  # DUO column prefix → (name, lowest, highest score of the test)
    "CET": ("Centrale Eindtoets", 501, 550),
    "IEP": ("IEP Eindtoets", 50, 100),
    "ROUTE8": ("Route 8", 100, 300),
    "DIA": ("Dia-eindtoets", 100, 600),
    "AMN": ("AMN Eindtoets", 100, 600),
}
for _prefix, (_name, _low, _high) in EINDTOETS_PROVIDERS.items():
    _INDICATORS.append(Indicator(
        f"eindtoets_{_prefix.lower()}", f"Eindtoets: {_name}", "score", "school",
        DUO_OPEN + " (Gemiddelde eindscores)",
        f"Gemiddelde score op de {_name} (schaal {_low}-{_high}), alleen scholen die deze toets "
        "afnamen.", higher_is_better=True))

INDICATORS: dict[str, Indicator] = {ind.key: ind for ind in _INDICATORS}
CONTEXT_INDICATORS = [ind for ind in _INDICATORS if ind.level == "area"]


def get(key: str) -> Indicator:
    try:
        return INDICATORS[key]
    except KeyError:
        raise KeyError(f"unknown indicator '{key}'; known: {', '.join(sorted(INDICATORS))}") from None


def sync(conn) -> None:
    conn.execute(delete(indicator_table))
    conn.execute(insert(indicator_table), [
        {"key": ind.key, "label": ind.label, "unit": ind.unit, "level": ind.level,
         "source": ind.source, "description": ind.description,
         "higher_is_better": ind.higher_is_better, "restricted": ind.restricted}
        for ind in _INDICATORS
    ])

# The Scholen view: a school's pupil population on the x-axis, what its pupils reach on the y-axis.
SCHOOL_POPULATION = ("apcg_pct", "achterstandsscore_per_100", "achterstandsscore")
SCHOOL_OUTCOMES = ("toetsadvies_gem", "schooladvies_gem", "eindtoets_gem", "schooladvies_havo_vwo_pct")

# What a wijk map opens on: a rate that differs between wijken, never a count (inhabitants are
# mostly a measure of a wijk's size, and paint a city in one colour).
MAP_PREFERENCE = ("afstroom_pct", "opstroom_pct", "pct_hh_laag_inkomen", "bijstand_per_1000", "pct_niet_westers", "pct_0_14_jr",
                  "ww_per_1000", "ao_per_1000", "pct_hh_met_kinderen", "bevolkingsdichtheid")


def axis_title(ind: Indicator) -> str:
    """The label with its unit, as an axis says it: "Afstroom in het vo (%)"."""
    suffix = UNITS[ind.unit][2]
    return f"{ind.label} ({suffix})" if suffix else ind.label
