"""Reference tables of the built-in synthetic world: substances, country base rates, routes, events.

Plain data, kept apart from the generator (`features/synthetic_world.py`) so a reviewer can read
the world's geography and its planted truth without reading numpy. The numbers are invented but
follow the real geography of the drug trade (UNODC World Drug Report): cocaine from the Andes to
North America and Western Europe, heroin from Afghanistan along the Balkan and northern routes,
methamphetamine in South-East Asia, North America and Oceania, captagon in the Middle East,
cannabis everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CAN, COC, OPI, ATS = "cannabis", "cocaine", "opioids", "amphetamine-type stimulants"
NPS, SED, PRE, OTH = "NPS", "sedatives", "precursors", "other"
GROUPS: tuple[str, ...] = (CAN, COC, OPI, ATS, NPS, SED, PRE, OTH)

Weights = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Substance:
    """One substance: its group, the spellings reporters use, how it is counted and its sizes.

    `form` is "mass" (kg or g), "tablet" (counted, `tablet_kg` each) or "liquid" (l; 1 l = 1 kg).
    Seizure sizes are lognormal in kilograms with median `median_kg` and log-sd `sigma`.
    """

    name: str
    group: str
    names: Weights
    form: str = "mass"
    median_kg: float = 0.5
    sigma: float = 1.5
    tablet_kg: float = 0.0


def _s(name: str, group: str, names: Weights, form: str = "mass", median_kg: float = 0.5,
       sigma: float = 1.5, tablet_kg: float = 0.0) -> Substance:
    return Substance(name, group, names, form, median_kg, sigma, tablet_kg)


# The substances of the default world. Spellings are what reporters write, weighted by frequency.
SUBSTANCES: tuple[Substance, ...] = (
    _s("cannabis herb", CAN, (("Cannabis", .35), ("marijuana", .25), ("Marihuana", .1),
                              ("cannabis herb", .2), ("Ganja", .1)), median_kg=1.5, sigma=1.7),
    _s("cannabis resin", CAN, (("Hashish", .4), ("hashish", .2), ("cannabis resin", .25),
                               ("Hash", .15)), median_kg=2.0, sigma=1.7),
    _s("cannabis oil", CAN, (("cannabis oil", .7), ("Hash oil", .3)), "liquid", .2, 1.2),
    _s("cocaine hydrochloride", COC, (("Cocaine HCL", .3), ("cocaine hydrochloride", .2),
                                      ("Cocaine", .35), ("COCAINE", .15)),
       median_kg=1.0, sigma=1.6),
    _s("crack cocaine", COC, (("crack", .6), ("Crack cocaine", .4)), median_kg=.02, sigma=1.2),
    _s("coca paste", COC, (("coca paste", .5), ("Cocaine base", .3),
                           ("pasta basica de cocaina", .2)), median_kg=2.0, sigma=1.5),
    _s("heroin", OPI, (("Heroin", .6), ("heroin", .25), ("HEROIN", .15)), median_kg=.5, sigma=1.8),
    _s("opium", OPI, (("Opium", .7), ("raw opium", .3)), median_kg=3.0, sigma=1.5),
    _s("morphine", OPI, (("Morphine", .8), ("morphine base", .2)), median_kg=1.0, sigma=1.5),
    _s("fentanyl", OPI, (("fentanyl", .6), ("Fentanyl", .4)), median_kg=.3, sigma=1.5),
    _s("tramadol", OPI, (("tramadol", .6), ("Tramadol tablets", .4)), "tablet", .2, 2.0, .0003),
    _s("codeine", OPI, (("codeine syrup", .6), ("Codeine", .4)), "liquid", 2.0, 1.2),
    _s("nitazenes", OPI, (("nitazenes", .5), ("Nitazene", .2), ("isotonitazene", .3)),
       median_kg=.01, sigma=1.2),
    _s("methamphetamine", ATS, (("Crystal meth", .3), ("crystal meth", .15),
                                ("methamphetamine", .25), ("Methamphetamine", .1), ("ice", .1),
                                ("shabu", .1)),
       median_kg=.5, sigma=1.8),
    _s("methamphetamine tablets", ATS, (("yaba", .5), ("Yaba tablets", .2),
                                        ("methamphetamine tablets", .3)), "tablet", .5, 2.0, .0001),
    _s("amphetamine", ATS, (("amphetamine", .5), ("Amphetamine", .3), ("speed", .2)),
       median_kg=.3, sigma=1.7),
    _s("captagon", ATS, (("Captagon", .6), ("captagon pills", .25), ("fenetylline", .15)),
       "tablet", 10.0, 1.8, .00017),
    _s("MDMA", ATS, (("ecstasy", .35), ("Ecstasy", .2), ("MDMA", .3), ("XTC", .15)),
       "tablet", .05, 1.8, .0003),
    _s("synthetic cannabinoids", NPS, (("synthetic cannabinoids", .5), ("Spice", .3), ("K2", .2)),
       median_kg=.2, sigma=1.5),
    _s("synthetic cathinones", NPS, (("synthetic cathinones", .5), ("mephedrone", .3),
                                     ("bath salts", .2)), median_kg=.1, sigma=1.5),
    _s("ketamine", NPS, (("ketamine", .7), ("Ketamine", .3)), median_kg=1.0, sigma=1.8),
    _s("diazepam", SED, (("diazepam", .5), ("Diazepam", .2), ("Valium", .3)),
       "tablet", .02, 1.5, .0002),
    _s("alprazolam", SED, (("alprazolam", .6), ("Xanax", .4)), "tablet", .01, 1.5, .0002),
    _s("methaqualone", SED, (("methaqualone", .4), ("Mandrax", .6)), "tablet", .05, 1.6, .0003),
    _s("xylazine", SED, (("xylazine", .6), ("Xylazine", .2), ("tranq", .2)),
       median_kg=.1, sigma=1.3),
    _s("ephedrine", PRE, (("ephedrine", .7), ("Ephedrine", .3)), median_kg=5.0, sigma=1.8),
    _s("pseudoephedrine", PRE, (("pseudoephedrine", 1.0),), median_kg=5.0, sigma=1.8),
    _s("acetic anhydride", PRE, (("acetic anhydride", .6), ("Acetic Anhydride", .4)),
       "liquid", 50.0, 1.5),
    _s("P-2-P", PRE, (("P2P", .4), ("P-2-P", .3), ("phenyl-2-propanone", .2), ("BMK", .1)),
       "liquid", 20.0, 1.5),
    _s("khat", OTH, (("khat", .5), ("Khat", .2), ("qat", .15), ("miraa", .15)),
       median_kg=20.0, sigma=1.3),
    _s("LSD", OTH, (("LSD", .8), ("lysergide", .2)), "tablet", .001, 1.5, .00005),
    _s("psilocybin mushrooms", OTH, (("magic mushrooms", .6), ("psilocybin mushrooms", .4)),
       median_kg=.1, sigma=1.3),
)

# Substances that only exist where a planted event puts them.
EVENT_ONLY_SUBSTANCES = frozenset({"nitazenes", "xylazine"})

# Extra substances of the wide world (scale >= 3): name, group, form, median kg, tablet kg,
# regions where they are common. Each is written as its name, sometimes upper-cased.
_EXTRA: tuple[tuple[str, str, str, float, float, str], ...] = (
    ("cannabis concentrate", CAN, "mass", .1, 0, "Americas Europe"),
    ("cannabis seeds", CAN, "mass", .05, 0, "Europe"),
    ("coca leaf", COC, "mass", 20., 0, "Americas"),
    ("methadone", OPI, "liquid", .1, 0, "Europe"),
    ("buprenorphine", OPI, "tablet", .005, .0002, "Europe"),
    ("oxycodone", OPI, "tablet", .01, .0002, "Americas"),
    ("hydrocodone", OPI, "tablet", .01, .0002, "Americas"),
    ("carfentanil", OPI, "mass", .01, 0, "Americas Europe"),
    ("acetylfentanyl", OPI, "mass", .02, 0, "Americas"),
    ("furanylfentanyl", OPI, "mass", .02, 0, "Americas Europe"),
    ("poppy straw", OPI, "mass", 10., 0, "Asia Europe"),
    ("desomorphine", OPI, "liquid", .01, 0, "Europe"),
    ("U-47700", OPI, "mass", .01, 0, "Americas Europe"),
    ("metonitazene", OPI, "mass", .005, 0, "Europe Americas"),
    ("protonitazene", OPI, "mass", .005, 0, "Europe"),
    ("brorphine", OPI, "mass", .005, 0, "Americas"),
    ("hydromorphone", OPI, "tablet", .01, .0002, "Americas"),
    ("pethidine", OPI, "tablet", .01, .0002, "Asia Africa"),
    ("MDA", ATS, "tablet", .05, .0003, "Europe Oceania"),
    ("MDEA", ATS, "tablet", .05, .0003, "Europe"),
    ("PMA", ATS, "tablet", .02, .0003, "Europe Oceania"),
    ("PMMA", ATS, "tablet", .02, .0003, "Europe"),
    ("methylphenidate", ATS, "tablet", .01, .0003, "Europe Americas"),
    ("phentermine", ATS, "tablet", .01, .0003, "Americas Asia"),
    ("phenmetrazine", ATS, "tablet", .01, .0003, "Europe"),
    ("MDMB-4en-PINACA", NPS, "mass", .05, 0, "Europe"),
    ("ADB-BUTINACA", NPS, "mass", .05, 0, "Europe Asia"),
    ("5F-MDMB-PICA", NPS, "mass", .05, 0, "Europe Americas"),
    ("JWH-018", NPS, "mass", .05, 0, "Europe Americas"),
    ("AB-FUBINACA", NPS, "mass", .05, 0, "Americas Asia"),
    ("4F-MDMB-BINACA", NPS, "mass", .05, 0, "Europe"),
    ("MDMB-CHMICA", NPS, "mass", .05, 0, "Europe"),
    ("AMB-FUBINACA", NPS, "mass", .05, 0, "Americas Oceania"),
    ("5F-ADB", NPS, "mass", .05, 0, "Europe Asia"),
    ("HHC", NPS, "mass", .1, 0, "Europe"),
    ("3-MMC", NPS, "mass", .1, 0, "Europe"),
    ("4-CMC", NPS, "mass", .1, 0, "Europe"),
    ("3-CMC", NPS, "mass", .1, 0, "Europe"),
    ("alpha-PVP", NPS, "mass", .05, 0, "Europe Asia"),
    ("alpha-PHP", NPS, "mass", .05, 0, "Europe"),
    ("N-ethylpentylone", NPS, "mass", .05, 0, "Europe Asia"),
    ("eutylone", NPS, "mass", .05, 0, "Americas Asia"),
    ("MDPV", NPS, "mass", .05, 0, "Europe Americas"),
    ("methylone", NPS, "mass", .05, 0, "Americas Asia"),
    ("pentedrone", NPS, "mass", .05, 0, "Europe"),
    ("4-MEC", NPS, "mass", .05, 0, "Europe"),
    ("2C-B", NPS, "tablet", .01, .0002, "Europe Americas"),
    ("2C-I", NPS, "tablet", .01, .0002, "Europe"),
    ("25I-NBOMe", NPS, "tablet", .001, .00005, "Europe Oceania"),
    ("25C-NBOMe", NPS, "tablet", .001, .00005, "Europe"),
    ("DOB", NPS, "tablet", .001, .00005, "Europe"),
    ("4-fluoroamphetamine", NPS, "mass", .05, 0, "Europe"),
    ("5-MeO-DMT", NPS, "mass", .01, 0, "Europe Americas"),
    ("4-AcO-DMT", NPS, "mass", .01, 0, "Europe"),
    ("methoxetamine", NPS, "mass", .05, 0, "Europe"),
    ("2-FDCK", NPS, "mass", .05, 0, "Europe Asia"),
    ("3-MeO-PCP", NPS, "mass", .02, 0, "Europe"),
    ("etizolam", NPS, "tablet", .01, .0002, "Europe Asia"),
    ("flualprazolam", NPS, "tablet", .01, .0002, "Europe"),
    ("bromazolam", NPS, "tablet", .01, .0002, "Europe Americas"),
    ("clonazolam", NPS, "tablet", .01, .0002, "Europe"),
    ("flubromazolam", NPS, "tablet", .01, .0002, "Europe"),
    ("diclazepam", NPS, "tablet", .01, .0002, "Europe"),
    ("phenazepam", NPS, "tablet", .01, .0002, "Europe Asia"),
    ("kratom", NPS, "mass", 2., 0, "Asia Europe Americas"),
    ("salvia divinorum", NPS, "mass", .1, 0, "Europe Americas"),
    ("clonazepam", SED, "tablet", .01, .0002, "Americas Europe Africa"),
    ("lorazepam", SED, "tablet", .01, .0002, "Europe"),
    ("bromazepam", SED, "tablet", .01, .0002, "Europe Africa"),
    ("flunitrazepam", SED, "tablet", .01, .0002, "Europe Africa Americas"),
    ("midazolam", SED, "liquid", .01, 0, "Asia"),
    ("phenobarbital", SED, "tablet", .02, .0002, "Africa Asia"),
    ("zolpidem", SED, "tablet", .01, .0002, "Europe Asia"),
    ("GHB", SED, "liquid", .5, 0, "Europe Oceania"),
    ("PMK", PRE, "liquid", 30., 0, "Europe Asia"),
    ("BMK glycidate", PRE, "mass", 50., 0, "Europe Asia"),
    ("APAAN", PRE, "mass", 50., 0, "Europe Asia"),
    ("safrole", PRE, "liquid", 30., 0, "Asia"),
    ("piperonal", PRE, "mass", 20., 0, "Asia Europe"),
    ("norephedrine", PRE, "mass", 5., 0, "Asia"),
    ("potassium permanganate", PRE, "mass", 100., 0, "Americas"),
    ("anthranilic acid", PRE, "mass", 20., 0, "Asia Africa"),
    ("NPP", PRE, "mass", 5., 0, "Americas Asia"),
    ("4-ANPP", PRE, "mass", 5., 0, "Americas Asia"),
    ("ergometrine", PRE, "mass", .5, 0, "Europe"),
    ("methylamine", PRE, "liquid", 50., 0, "Americas Asia"),
    ("mescaline", OTH, "mass", .1, 0, "Americas"),
    ("peyote", OTH, "mass", 1., 0, "Americas"),
    ("PCP", OTH, "mass", .05, 0, "Americas"),
    ("DMT", OTH, "mass", .02, 0, "Americas Europe"),
    ("ayahuasca", OTH, "liquid", 1., 0, "Americas Europe"),
    ("pregabalin", OTH, "tablet", .1, .0003, "Africa Asia Europe"),
    ("gabapentin", OTH, "tablet", .1, .0003, "Europe Americas"),
    ("nitrous oxide", OTH, "mass", 5., 0, "Europe"),
    ("dextromethorphan", OTH, "liquid", .5, 0, "Asia Africa"),
)


def extra_substances() -> tuple[tuple[Substance, frozenset[str]], ...]:
    """The wide world's extra substances, each with the regions where it is common."""
    out = []
    for name, group, form, median, tablet_kg, regions in _EXTRA:
        names = ((name, .8), (name.upper(), .2)) if name.upper() != name else ((name, 1.0),)
        out.append((Substance(name, group, names, form, median, 1.4, tablet_kg),
                    frozenset(regions.split())))
    return tuple(out)


def _reported_names() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for sub in SUBSTANCES + tuple(s for s, _ in extra_substances()):
        for name, _ in sub.names:
            table[name] = (sub.name, sub.group)
    return table


# Every drug spelling the world writes -> (substance, group) it stands for. The ingestion
# taxonomy (data/reference/drug_taxonomy.csv) must map all of these.
REPORTED_NAMES: dict[str, tuple[str, str]] = _reported_names()

# Unit spellings written -> normalised unit; UNKNOWN_UNITS are the dirt (no weight can be known).
UNIT_NAMES: dict[str, str] = {"kg": "kg", "KG": "kg", "g": "g", "grams": "g", "tablets": "tablet",
                              "tab": "tablet", "pills": "tablet", "l": "l", "litres": "l"}
UNKNOWN_UNITS: tuple[str, ...] = ("bales", "parcels", "bundles", "sacks")
UNKNOWN_COUNTRIES: tuple[str, ...] = ("Atlantis", "Wakanda", "Freedonia", "Ruritania")

# Transport-mode spellings per normalised mode.
MODE_SPELLINGS: dict[str, Weights] = {
    "air": (("air", .55), ("Air", .15), ("Air cargo", .2), ("by air", .1)),
    "land": (("land", .55), ("by road", .25), ("Road", .1), ("Land", .1)),
    "sea": (("sea", .55), ("Maritime", .3), ("Sea", .15)),
    "mail": (("mail", .5), ("postal", .3), ("Post", .2)),
    "rail": (("rail", .7), ("Railway", .3)),
}
MODE_NAMES: dict[str, str] = {s: m for m, spell in MODE_SPELLINGS.items() for s, _ in spell}
MODES: tuple[str, ...] = tuple(MODE_SPELLINGS)
CONCEALMENT: dict[str, tuple[str, ...]] = {
    "air": ("luggage", "body", "air cargo", "passenger"),
    "land": ("vehicle", "truck", "bus", "on person"),
    "sea": ("container", "vessel", "yacht", "hull"),
    "mail": ("parcel", "letter", "express courier"),
    "rail": ("train compartment", "freight wagon"),
}
SOURCES: tuple[str, ...] = ("Customs", "National Police", "Border Guard", "Coast Guard",
                            "Drug Control Agency", "Gendarmerie")

# Base monthly seizures per country (before the world's volume factor), one column per group:
#          can   coc   opi   ats   nps   sed   pre   oth
CORE_RATES: dict[str, tuple[float, ...]] = {
    "USA": (40, 25, 30, 35, 5, 4, 1, 2), "CAN": (10, 6, 8, 8, 2, 1, 1, 1),
    "MEX": (20, 10, 8, 18, .3, 1, 4, .2), "GTM": (2, 3, 1, 1, 0, .2, .3, 0),
    "HND": (2, 3, .3, .3, 0, 0, 0, 0), "PAN": (1.5, 8, .3, .3, 0, 0, 0, 0),
    "CRI": (2, 6, .5, .5, .1, .1, 0, 0), "COL": (15, 30, 1, 1, .3, .3, 2, .2),
    "PER": (3, 12, .5, .3, 0, 0, 1, 0), "BOL": (2, 8, .1, .1, 0, 0, 1, 0),
    "ECU": (3, 14, .5, .3, 0, 0, .3, 0), "BRA": (20, 18, .5, 1, 1, .5, .3, .5),
    "ARG": (10, 6, .5, 2, .5, .5, .5, .5), "CHL": (8, 6, .3, 1, .3, .3, .3, .3),
    "VEN": (1, 4, .2, .2, 0, 0, 0, 0), "DOM": (2, 6, .5, .5, 0, 0, 0, 0),
    "JAM": (6, 2, 0, 0, 0, 0, 0, 0), "PRY": (8, 2, 0, .2, 0, 0, 0, 0),
    "ESP": (40, 30, 3, 5, 2, 1, .5, .5), "PRT": (6, 6, 1, 1, .5, .2, 0, .2),
    "FRA": (30, 15, 5, 5, 3, 2, .5, 1), "BEL": (10, 25, 2, 5, 1, .5, .5, .5),
    "NLD": (12, 16, 3, 12, 3, .5, 3, 1), "DEU": (30, 10, 6, 15, 5, 2, 1, 2),
    "GBR": (35, 15, 10, 6, 8, 4, .5, 2), "IRL": (6, 4, 1, 1, 1, 1, 0, .3),
    "ITA": (30, 15, 5, 2, 1, 1, .3, .5), "POL": (8, 2, 1, 8, 3, 1, 1, .5),
    "CZE": (5, 1, .5, 8, 1, .5, 2, .5), "AUT": (6, 2, 2, 2, 1, .5, 0, .3),
    "CHE": (5, 3, 2, 1, .5, .5, 0, .3), "SWE": (8, 2, 1, 4, 3, 3, 0, 1),
    "GRC": (8, 1, 3, .5, .3, .3, 0, 0), "BGR": (3, 1, 6, 3, .5, .3, 1, 0),
    "ROU": (3, 1, 2, 1, 2, .3, .3, 0), "SRB": (5, 1, 4, 1, .3, .3, 0, 0),
    "HRV": (4, 2, 2, 1, .5, .3, 0, 0), "ALB": (8, 1, 2, 0, 0, 0, 0, 0),
    "UKR": (5, .5, 2, 3, 2, .5, .5, 0), "RUS": (15, 1, 8, 8, 10, 1, 2, .5),
    "TUR": (15, 12, 12, 10, 1, 1, 1, .3), "AFG": (6, 0, 25, 8, 0, 0, 2, 0),
    "IRN": (6, 0, 40, 15, 0, .5, 1, 0), "PAK": (10, .2, 18, 2, 0, .5, 1, 0),
    "IND": (15, .5, 8, 2, .5, 2, 2, .5), "SAU": (5, .3, 1, 15, .5, 1, 0, 3),
    "JOR": (4, .2, .5, 10, .3, .5, 0, 0), "LBN": (4, .3, .3, 6, 0, .3, 0, 0),
    "SYR": (2, 0, .3, 5, 0, 0, .3, 0), "IRQ": (2, 0, 1, 6, 0, .5, 0, 0),
    "ARE": (2, .5, 1, 3, .3, 1, 0, .5), "CHN": (2, .5, 6, 15, 2, 1, 5, 0),
    "HKG": (1, 2, 2, 4, 1, .3, .3, 0), "MMR": (1, 0, 10, 20, .5, 0, 3, 0),
    "THA": (15, .3, 6, 40, 2, .3, 2, 0), "LAO": (1, 0, 3, 10, .3, 0, .5, 0),
    "VNM": (1, 0, 6, 8, .5, 0, 0, 0), "KHM": (.5, 0, .5, 4, .5, 0, .3, 0),
    "MYS": (4, .2, 5, 15, 2, .3, .5, .3), "IDN": (8, .2, .5, 12, 1, .3, .3, 0),
    "PHL": (4, .3, 0, 15, .3, 0, .3, 0), "JPN": (4, 1, .3, 6, 1, .3, .2, .3),
    "KOR": (2, .3, .3, 4, 1, .3, 0, 0), "BGD": (2, 0, 3, 10, .3, 2, 0, 0),
    "KAZ": (3, .1, 2, 1, 2, .3, .3, 0), "TJK": (1, 0, 3, .1, 0, 0, 0, 0),
    "NGA": (25, 3, 5, 3, .3, 2, .5, .3), "GHA": (6, 2, 3, .5, 0, .5, 0, 0),
    "SEN": (4, 2, .5, .3, 0, .3, 0, 0), "GNB": (1, 1.5, 0, 0, 0, 0, 0, 0),
    "MAR": (30, 2, 1, 1, 0, 1, 0, 0), "DZA": (12, 1, 3, 1, .3, 4, 0, 0),
    "EGY": (15, .5, 12, 1, 3, 2, 0, .5), "ZAF": (15, 14, 2, 5, .3, 3, .5, .3),
    "KEN": (10, .5, 2, .3, 0, .3, 0, 2), "TZA": (6, .3, 2, .3, 0, 0, 0, 1),
    "ETH": (2, .2, .3, 0, 0, 0, 0, 6), "BEN": (3, 1, 3, .2, 0, .3, 0, 0),
    "CIV": (4, 1, 3, .3, 0, .3, 0, 0),
    "AUS": (12, 6, 3, 20, 2, 1, 3, 1), "NZL": (5, 1, .3, 6, 1, .3, 1, .3),
    "PNG": (2, 0, 0, .2, 0, 0, 0, 0), "FJI": (1, 1, 0, .5, 0, 0, 0, 0),
}

# Base monthly seizures per group for the wide world's extra countries, by UN region.
GENERIC_RATES: dict[str, tuple[float, ...]] = {
    "Africa": (3, .4, 1, .3, .1, .4, .1, .3), "Americas": (3, 2, .4, .6, .2, .2, .1, .2),
    "Asia": (2, .2, 1, 1.5, .3, .3, .2, .1), "Europe": (3, 1, .8, 1, 1, .4, .1, .3),
    "Oceania": (1.5, .2, .1, .4, .1, .1, 0, .1),
}

# English names written for some countries besides their ISO3 and ISO2 codes.
COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "IRN": ("Iran, Islamic Republic of", "Iran"), "TUR": ("Türkiye", "Turkey"),
    "NLD": ("Netherlands",), "GBR": ("United Kingdom",), "USA": ("United States",),
    "RUS": ("Russian Federation",), "KOR": ("Republic of Korea",),
    "BOL": ("Bolivia (Plurinational State of)",), "VEN": ("Venezuela",),
    "SYR": ("Syrian Arab Republic",), "LAO": ("Lao People's Democratic Republic",),
    "VNM": ("Viet Nam",), "CIV": ("Côte d'Ivoire",), "TZA": ("United Republic of Tanzania",),
    "CZE": ("Czechia",), "HKG": ("Hong Kong, China",), "DEU": ("Germany",), "ESP": ("Spain",),
    "FRA": ("France",), "BRA": ("Brazil",), "COL": ("Colombia",), "MEX": ("Mexico",),
    "AFG": ("Afghanistan",), "PAK": ("Pakistan",), "MMR": ("Myanmar",), "THA": ("Thailand",),
    "NGA": ("Nigeria",), "ZAF": ("South Africa",), "AUS": ("Australia",), "BEL": ("Belgium",),
    "SAU": ("Saudi Arabia",), "EGY": ("Egypt",), "MAR": ("Morocco",), "ITA": ("Italy",),
}

# Which substances of a group a country seizes: first matching rule wins. A rule's key set holds
# ISO3 codes, UN subregions or UN regions; "*" matches everything.
SUBSTANCE_SPLITS: tuple[tuple[str, frozenset[str], dict[str, float]], ...] = (
    (CAN, frozenset({"MAR", "ESP", "FRA", "PRT", "ITA", "BEL", "DZA", "AFG", "PAK", "LBN", "EGY"}),
     {"cannabis herb": .3, "cannabis resin": .68, "cannabis oil": .02}),
    (CAN, frozenset({"*"}), {"cannabis herb": .82, "cannabis resin": .15, "cannabis oil": .03}),
    (COC, frozenset({"BRA"}),
     {"cocaine hydrochloride": .6, "crack cocaine": .25, "coca paste": .15}),
    (COC, frozenset({"South America", "Central America", "Caribbean"}),
     {"cocaine hydrochloride": .6, "coca paste": .3, "crack cocaine": .1}),
    (COC, frozenset({"*"}), {"cocaine hydrochloride": .92, "crack cocaine": .08}),
    (OPI, frozenset({"AFG", "IRN", "PAK", "TJK", "KAZ"}),
     {"heroin": .5, "opium": .42, "morphine": .08}),
    (OPI, frozenset({"IND"}), {"heroin": .4, "opium": .2, "tramadol": .2, "codeine": .2}),
    (OPI, frozenset({"Africa", "Western Asia"}), {"tramadol": .65, "heroin": .25, "codeine": .1}),
    (OPI, frozenset({"Northern America"}), {"fentanyl": .45, "heroin": .45, "tramadol": .1}),
    (OPI, frozenset({"South-eastern Asia", "Eastern Asia", "Southern Asia"}),
     {"heroin": .7, "opium": .3}),
    (OPI, frozenset({"*"}), {"heroin": .75, "opium": .05, "morphine": .03, "tramadol": .1,
                             "codeine": .07}),
    (ATS, frozenset({"AFG", "IRN", "PAK"}), {"methamphetamine": .9, "MDMA": .1}),
    (ATS, frozenset({"TUR"}), {"captagon": .5, "methamphetamine": .3, "MDMA": .2}),
    (ATS, frozenset({"Western Asia", "Northern Africa"}),
     {"captagon": .85, "amphetamine": .1, "methamphetamine": .05}),
    (ATS, frozenset({"JPN", "KOR", "PHL"}), {"methamphetamine": .9, "MDMA": .1}),
    (ATS, frozenset({"South-eastern Asia", "Eastern Asia", "Southern Asia"}),
     {"methamphetamine tablets": .55, "methamphetamine": .4, "MDMA": .05}),
    (ATS, frozenset({"Americas", "Oceania"}), {"methamphetamine": .8, "MDMA": .2}),
    (ATS, frozenset({"Europe"}), {"amphetamine": .45, "MDMA": .35, "methamphetamine": .2}),
    (ATS, frozenset({"*"}), {"methamphetamine": .5, "amphetamine": .3, "MDMA": .2}),
    (NPS, frozenset({"Eastern Asia", "South-eastern Asia"}),
     {"ketamine": .85, "synthetic cannabinoids": .1, "synthetic cathinones": .05}),
    (NPS, frozenset({"*"}), {"synthetic cannabinoids": .5, "synthetic cathinones": .3,
                             "ketamine": .2}),
    (SED, frozenset({"ZAF"}), {"methaqualone": .8, "diazepam": .2}),
    (SED, frozenset({"*"}), {"diazepam": .6, "alprazolam": .4}),
    (PRE, frozenset({"AFG", "PAK", "IRN", "TUR"}), {"acetic anhydride": .9, "ephedrine": .1}),
    (PRE, frozenset({"MEX"}), {"P-2-P": .6, "pseudoephedrine": .2, "ephedrine": .2}),
    (PRE, frozenset({"Asia"}), {"ephedrine": .5, "pseudoephedrine": .3, "P-2-P": .2}),
    (PRE, frozenset({"*"}), {"ephedrine": .3, "pseudoephedrine": .2, "acetic anhydride": .2,
                             "P-2-P": .3}),
    (OTH, frozenset({"ETH", "KEN", "SAU", "TZA", "Eastern Africa"}), {"khat": .95, "LSD": .05}),
    (OTH, frozenset({"GBR", "DEU", "NLD", "SWE", "USA", "CAN"}),
     {"khat": .3, "LSD": .35, "psilocybin mushrooms": .35}),
    (OTH, frozenset({"*"}), {"LSD": .5, "psilocybin mushrooms": .5}),
)

# Log-offsets of seizure sizes where consignments are large (ports, producers, hubs).
SIZE_OFFSETS: dict[tuple[str, str], float] = {
    **{(COC, c): 1.0 for c in ("COL", "ECU", "PAN", "BRA", "ESP", "NLD", "BEL", "ITA", "CRI")},
    **{(OPI, c): 1.0 for c in ("IRN", "PAK", "AFG", "TUR")},
    **{(ATS, c): .8 for c in ("MMR", "THA", "MYS", "AUS", "MEX", "SAU", "JOR", "LBN", "SYR")},
    **{(CAN, c): 1.0 for c in ("MAR", "ESP", "MEX", "COL", "PRY")},
    **{(PRE, c): 1.0 for c in ("AFG", "MEX", "CHN")},
}


@dataclass(frozen=True)
class Flow:
    """A trafficking flow: where the consignments come from, go through and go to.

    `seized_at` maps a seizing country to its role on the flow (origin, departure, transit,
    destination) and the share of its seizures of the flow's substances that belong to it.
    """

    name: str
    substances: tuple[str, ...]
    origins: Weights
    departures: Weights
    transits: tuple[tuple[tuple[str, ...], float], ...]
    destinations: Weights
    modes: Weights
    seized_at: dict[str, tuple[str, float]] = field(default_factory=dict)


def _roles(role: str, share: float, *countries: str) -> dict[str, tuple[str, float]]:
    return {c: (role, share) for c in countries}


FLOWS: tuple[Flow, ...] = (
    Flow("cocaine to Europe", ("cocaine hydrochloride",),
         (("COL", .6), ("PER", .25), ("BOL", .15)),
         (("BRA", .35), ("ECU", .25), ("COL", .2), ("DOM", .08), ("PAN", .07), ("VEN", .05)),
         (((), .5), (("DOM",), .1), (("SEN",), .05), (("PRT",), .1), (("ESP",), .15),
          (("GHA",), .05), (("BEL",), .05)),
         (("ESP", .25), ("NLD", .22), ("BEL", .22), ("ITA", .1), ("DEU", .08), ("FRA", .07),
          ("GBR", .06)),
         (("sea", .8), ("air", .15), ("mail", .05)),
         {**_roles("destination", 1.0, "ESP", "NLD", "BEL", "ITA", "DEU", "FRA", "GBR", "PRT",
                   "IRL"),
          **_roles("departure", .35, "ECU", "BRA", "COL", "DOM", "PAN", "VEN")}),
    Flow("cocaine to North America", ("cocaine hydrochloride",),
         (("COL", .7), ("PER", .2), ("BOL", .1)),
         (("COL", .45), ("ECU", .2), ("VEN", .1), ("PAN", .1), ("MEX", .15)),
         (((), .3), (("GTM", "MEX"), .2), (("HND", "GTM", "MEX"), .15), (("MEX",), .2),
          (("PAN", "CRI"), .15)),
         (("USA", .85), ("CAN", .15)),
         (("land", .45), ("sea", .4), ("air", .15)),
         {**_roles("destination", 1.0, "USA", "CAN"),
          **_roles("transit", .8, "MEX", "GTM", "HND", "CRI"), **_roles("transit", .5, "PAN"),
          **_roles("departure", .45, "COL", "ECU", "VEN")}),
    Flow("cocaine to Oceania", ("cocaine hydrochloride",),
         (("COL", .6), ("PER", .3), ("BOL", .1)),
         (("CHL", .3), ("BRA", .2), ("MEX", .2), ("USA", .1), ("COL", .2)),
         (((), .7), (("FJI",), .2), (("PAN",), .1)),
         (("AUS", .85), ("NZL", .15)),
         (("sea", .5), ("mail", .3), ("air", .2)),
         {**_roles("destination", .9, "AUS", "NZL"), **_roles("transit", .8, "FJI")}),
    Flow("heroin to Europe", ("heroin",),
         (("AFG", .95), ("MMR", .05)),
         (("IRN", .35), ("PAK", .35), ("AFG", .3)),
         ((("IRN", "TUR", "BGR"), .35), (("IRN", "TUR", "BGR", "SRB"), .2),
          (("IRN", "TUR", "GRC"), .1), (("TUR", "BGR", "ROU"), .1), (("PAK", "TZA"), .05),
          (("IRN", "TUR", "GRC", "ALB"), .1), ((), .1)),
         (("DEU", .2), ("GBR", .2), ("NLD", .15), ("FRA", .1), ("ITA", .1), ("BEL", .05),
          ("AUT", .1), ("CHE", .1)),
         (("land", .85), ("sea", .1), ("air", .05)),
         {**_roles("destination", .9, "DEU", "GBR", "NLD", "FRA", "ITA", "BEL", "AUT", "CHE"),
          **_roles("transit", .8, "TUR", "BGR", "SRB", "GRC", "ROU", "ALB", "HRV"),
          **_roles("transit", .3, "IRN"), **_roles("departure", .3, "PAK")}),
    Flow("heroin to the north", ("heroin",),
         (("AFG", 1.0),), (("AFG", 1.0),),
         ((("TJK",), .3), (("TJK", "UZB", "KAZ"), .4), (("TKM", "KAZ"), .2), ((), .1)),
         (("RUS", .7), ("KAZ", .3)),
         (("land", .8), ("rail", .2)),
         {**_roles("destination", .9, "RUS", "KAZ"), **_roles("transit", .8, "TJK")}),
    Flow("methamphetamine to Oceania", ("methamphetamine",),
         (("MMR", .6), ("MEX", .2), ("CHN", .1), ("USA", .1)),
         (("THA", .2), ("MYS", .25), ("CHN", .15), ("MEX", .15), ("USA", .1), ("VNM", .05),
          ("KHM", .05), ("ZAF", .05)),
         (((), .6), (("MYS",), .1), (("THA", "MYS"), .1), (("SGP",), .1), (("HKG",), .1)),
         (("AUS", .85), ("NZL", .15)),
         (("sea", .55), ("air", .25), ("mail", .2)),
         {**_roles("destination", .85, "AUS", "NZL"), **_roles("departure", .2, "THA", "MYS")}),
    Flow("methamphetamine in Asia", ("methamphetamine", "methamphetamine tablets"),
         (("MMR", .9), ("CHN", .1)),
         (("MMR", .4), ("LAO", .25), ("THA", .2), ("KHM", .1), ("CHN", .05)),
         (((), .4), (("LAO",), .15), (("LAO", "THA"), .1), (("THA",), .2), (("THA", "MYS"), .15)),
         (("THA", .2), ("MYS", .2), ("IDN", .15), ("PHL", .15), ("JPN", .1), ("KOR", .05),
          ("BGD", .1), ("VNM", .05)),
         (("land", .6), ("sea", .3), ("air", .1)),
         {**_roles("destination", .8, "MYS", "IDN", "PHL", "JPN", "KOR", "BGD", "VNM", "HKG"),
          **_roles("transit", .7, "THA", "LAO"), **_roles("origin", .6, "MMR")}),
    Flow("methamphetamine to North America", ("methamphetamine",),
         (("MEX", 1.0),), (("MEX", 1.0),), (((), .9), (("GTM",), .1)),
         (("USA", .9), ("CAN", .1)),
         (("land", .85), ("air", .05), ("mail", .1)),
         {**_roles("destination", .8, "USA", "CAN"), **_roles("origin", .4, "MEX")}),
    Flow("captagon in the Middle East", ("captagon",),
         (("SYR", .85), ("LBN", .15)),
         (("SYR", .35), ("LBN", .45), ("JOR", .1), ("IRQ", .1)),
         (((), .6), (("JOR",), .25), (("IRQ",), .15)),
         (("SAU", .6), ("ARE", .1), ("JOR", .1), ("IRQ", .1), ("KWT", .1)),
         (("land", .7), ("sea", .2), ("air", .1)),
         {**_roles("destination", .9, "SAU", "ARE", "IRQ"),
          **_roles("departure", .7, "JOR", "LBN", "SYR")}),
    Flow("cannabis resin to Europe", ("cannabis resin",),
         (("MAR", .9), ("LBN", .05), ("AFG", .05)),
         (("MAR", .85), ("DZA", .1), ("LBN", .05)),
         (((), .5), (("ESP",), .4), (("ESP", "FRA"), .1)),
         (("ESP", .3), ("FRA", .3), ("ITA", .15), ("BEL", .05), ("NLD", .05), ("DEU", .05),
          ("GBR", .05), ("PRT", .05)),
         (("sea", .6), ("land", .35), ("air", .05)),
         {**_roles("destination", .7, "FRA", "ITA", "PRT", "BEL", "DEU"),
          **_roles("transit", .8, "ESP"), **_roles("origin", .5, "MAR")}),
    Flow("tramadol to Africa", ("tramadol",),
         (("IND", .85), ("CHN", .15)), (("IND", .85), ("CHN", .15)), (((), .8), (("ARE",), .2)),
         (("NGA", .3), ("EGY", .25), ("GHA", .1), ("BEN", .1), ("CIV", .1), ("DZA", .1),
          ("SAU", .05)),
         (("sea", .8), ("air", .15), ("mail", .05)),
         {**_roles("destination", .8, "NGA", "EGY", "GHA", "BEN", "CIV", "DZA"),
          **_roles("departure", .5, "IND")}),
    Flow("fentanyl to North America", ("fentanyl",),
         (("MEX", .9), ("CHN", .1)), (("MEX", 1.0),), (((), 1.0),),
         (("USA", .95), ("CAN", .05)),
         (("land", .9), ("mail", .1)),
         {**_roles("destination", .9, "USA", "CAN")}),
    Flow("khat from the Horn of Africa", ("khat",),
         (("ETH", .6), ("KEN", .4)), (("ETH", .6), ("KEN", .4)), (((), .9), (("DJI",), .1)),
         (("SAU", .3), ("GBR", .15), ("DEU", .1), ("NLD", .1), ("SWE", .1), ("USA", .15),
          ("CAN", .1)),
         (("air", .7), ("mail", .2), ("sea", .1)),
         {**_roles("destination", .9, "SAU", "GBR", "DEU", "NLD", "SWE", "USA", "CAN"),
          **_roles("origin", .5, "ETH", "KEN")}),
    Flow("acetic anhydride to Afghanistan", ("acetic anhydride",),
         (("CHN", .4), ("IND", .3), ("TUR", .3)), (("IRN", .3), ("PAK", .4), ("TUR", .3)),
         (((), .7), (("IRN",), .3)),
         (("AFG", 1.0),),
         (("land", .85), ("sea", .15)),
         {**_roles("destination", .9, "AFG"), **_roles("departure", .7, "PAK", "IRN", "TUR")}),
)

# The planted truth is drawn per seed (`features/synthetic_events.py`) from the pools below, so
# that a detector tuned on some seeds meets other events on others. Each level candidate is a
# (country, drug) series where the change is plausible; its story opens the event's description.
# The generator raises the series' level before the onset to the event's baseline when the
# catalog's rates are lower (the seed's world then knows it as an established, modest market), so
# that a planted change is a change a monthly count can show.


@dataclass(frozen=True)
class Candidate:
    """A (country, drug) series on which an event of one type may be planted."""

    geo: str
    drug_level: str
    drug: str
    story: str
    metric: str = "seizures"


EMERGING_CANDIDATES: tuple[Candidate, ...] = (
    Candidate("AFG", "group", ATS, "Methamphetamine made from local ephedra takes off in "
                                   "Afghanistan"),
    Candidate("ZAF", "group", COC, "Cocaine trafficking through South Africa's ports grows"),
    Candidate("TUR", "group", COC, "Cocaine reaches Türkiye on new container routes"),
    Candidate("HRV", "group", COC, "Balkan networks move cocaine through Croatian ports"),
    Candidate("HKG", "group", COC, "Cocaine transits Hong Kong for Asian markets"),
    Candidate("AUS", "group", COC, "Cocaine use spreads in Australia"),
    Candidate("NGA", "substance", "methamphetamine", "Methamphetamine laboratories multiply in "
                                                     "Nigeria"),
    Candidate("NLD", "substance", "methamphetamine", "Methamphetamine production moves to the "
                                                     "Netherlands"),
    Candidate("POL", "substance", "methamphetamine", "Methamphetamine spreads in Poland"),
    Candidate("IRQ", "substance", "captagon", "Captagon finds a market in Iraq"),
    Candidate("ARE", "substance", "captagon", "Captagon reaches the United Arab Emirates"),
    Candidate("MYS", "substance", "ketamine", "Ketamine trafficking grows in Malaysia"),
)
SURGE_CANDIDATES: tuple[Candidate, ...] = (
    Candidate("SAU", "substance", "captagon", "Captagon seizures in Saudi Arabia jump"),
    Candidate("USA", "substance", "fentanyl", "Fentanyl seizures in the United States jump"),
    Candidate("ECU", "group", COC, "Ecuador becomes a cocaine hub: seizures jump"),
    Candidate("MEX", "substance", "methamphetamine", "Methamphetamine output in Mexico jumps"),
    Candidate("THA", "substance", "methamphetamine tablets", "Yaba floods Thailand"),
    Candidate("ESP", "substance", "cannabis resin", "Moroccan hashish landings in Spain jump"),
    Candidate("PHL", "substance", "methamphetamine", "Shabu seizures in the Philippines jump"),
    Candidate("JOR", "substance", "captagon", "Captagon smuggling through Jordan jumps"),
    Candidate("BEL", "group", COC, "Larger cocaine consignments reach Antwerp", "kg"),
    Candidate("NLD", "group", COC, "Larger cocaine consignments reach Rotterdam", "kg"),
    Candidate("ESP", "group", COC, "Larger cocaine consignments reach Algeciras and Valencia",
              "kg"),
)
DECLINE_CANDIDATES: tuple[Candidate, ...] = (
    Candidate("AFG", "group", OPI, "After the opium-poppy ban, opioid seizures in Afghanistan "
                                   "fall"),
    Candidate("IRN", "group", OPI, "With Afghan opium scarce, opioid seizures in Iran fall"),
    Candidate("MMR", "group", OPI, "Opium seizures in Myanmar fall as farmers turn to other crops"),
    Candidate("THA", "group", CAN, "Cannabis is decriminalised in Thailand: seizures fall"),
    Candidate("USA", "group", CAN, "More states legalise cannabis: US seizures fall"),
    Candidate("MEX", "group", CAN, "Mexican cannabis loses its US market: seizures fall"),
    Candidate("DEU", "group", CAN, "Germany decriminalises cannabis: seizures fall"),
    Candidate("CAN", "group", CAN, "Legal cannabis crowds out the illicit market in Canada: "
                                   "seizures fall"),
)
# New drugs: substance -> the countries where it may appear (never seized anywhere before).
NEW_DRUG_CANDIDATES: dict[str, tuple[str, ...]] = {
    "nitazenes": ("GBR", "IRL", "DEU", "NLD", "SWE", "FRA", "AUS", "CAN", "USA"),
    "xylazine": ("USA", "CAN", "GBR", "MEX"),
}
NEW_DRUG_STORIES: dict[str, str] = {
    "nitazenes": "Nitazenes, synthetic opioids never seized here before, appear",
    "xylazine": "Xylazine ('tranq'), a veterinary sedative never seized here before, appears",
}

# Route shifts: a flow's weights of `attribute` replaced by `after` from the onset on; `new` names
# gaining entities the flow never had before. At most one shift per flow is drawn. A departure
# shift gains only countries that are not transit options of its flow (a seizure's transit list
# leaves out its departure country, so such a shift would also move the transit shares).
ROUTE_CANDIDATES: tuple[dict, ...] = (
    {"flow": "cocaine to Europe", "drug_level": "group", "drug": COC,
     "destination_region": "Europe", "attribute": "departure_country", "gaining": ["ECU"],
     "losing": ["BRA"], "new": [],
     "after": (("BRA", .06), ("ECU", .62), ("COL", .17), ("DOM", .07), ("PAN", .05), ("VEN", .03)),
     "description": "Cocaine bound for Europe leaves from Ecuador instead of Brazil."},
    {"flow": "cocaine to Europe", "drug_level": "group", "drug": COC,
     "destination_region": "Europe", "attribute": "departure_country", "gaining": ["BRA"],
     "losing": ["ECU", "COL"], "new": [],
     "after": (("BRA", .7), ("ECU", .08), ("COL", .06), ("DOM", .07), ("PAN", .06), ("VEN", .03)),
     "description": "After crackdowns in Ecuador and Colombia, cocaine bound for Europe leaves "
                    "from Brazil's ports."},
    {"flow": "heroin to Europe", "drug_level": "substance", "drug": "heroin",
     "destination_region": "Europe", "attribute": "transit_countries", "gaining": ["AZE", "GEO"],
     "losing": ["TUR"], "new": ["AZE", "GEO"],
     "after": ((("IRN", "AZE", "GEO"), .3), (("IRN", "AZE", "GEO", "ROU"), .2),
               (("IRN", "TUR", "BGR"), .2), (("IRN", "TUR", "BGR", "SRB"), .1),
               (("PAK", "TZA"), .05), (("IRN", "TUR", "GRC", "ALB"), .05), ((), .1)),
     "description": "Heroin for Europe takes the southern Caucasus route through Azerbaijan and "
                    "Georgia (never seen as transit before), bypassing Türkiye."},
    {"flow": "methamphetamine to Oceania", "drug_level": "substance", "drug": "methamphetamine",
     "destination_region": "Oceania", "attribute": "transport_mode", "gaining": ["mail"],
     "losing": ["sea"], "new": [], "after": (("sea", .12), ("air", .18), ("mail", .7)),
     "description": "Methamphetamine for Australia and New Zealand moves from sea freight to "
                    "the post."},
    {"flow": "captagon in the Middle East", "drug_level": "substance", "drug": "captagon",
     "destination_region": "Asia", "attribute": "transport_mode", "gaining": ["sea"],
     "losing": ["land"], "new": [], "after": (("land", .3), ("sea", .62), ("air", .08)),
     "description": "Captagon for the Gulf moves from overland smuggling through Jordan to "
                    "containers shipped from Syrian and Lebanese ports."},
    {"flow": "cocaine to North America", "drug_level": "group", "drug": COC,
     "destination_region": "Americas", "attribute": "transport_mode", "gaining": ["sea"],
     "losing": ["land"], "new": [], "after": (("land", .08), ("sea", .82), ("air", .1)),
     "description": "Cocaine for North America moves from land crossings to maritime routes "
                    "through the eastern Pacific."},
    {"flow": "methamphetamine in Asia", "drug_level": "group", "drug": ATS,
     "destination_region": "Asia", "attribute": "transport_mode", "gaining": ["sea"],
     "losing": ["land"], "new": [], "after": (("land", .25), ("sea", .67), ("air", .08)),
     "description": "Methamphetamine from Myanmar moves by sea across the Andaman Sea instead of "
                    "overland through the Mekong region."},
)

# How the drawn events are sized. Trends grow by a monthly rate until their level has multiplied
# by TREND_MAX_FOLD (a doubling within 5 to 9 months); surges and declines multiply the level;
# kilogram surges (bigger consignments, same counts) multiply seizure sizes, on more seizures and
# by more, since a monthly sum of heavy-tailed sizes is noisy; new drugs appear at a rate.
ONSET_RANGE = ("2022-03", "2023-06")
EVENTS_PER_TYPE = (2, 3)  # inclusive range of events drawn per type
TREND_GROWTH = (.08, .15)
TREND_MAX_FOLD = 4.0
SURGE_FOLD = (2.0, 3.5)
KG_SURGE_FOLD = (3.0, 4.5)
KG_SURGE_CHANCE = .5  # chance that one of a seed's surges is a kilogram surge
DECLINE_FOLD = (.3, .5)
NEW_DRUG_RATE = (6.0, 10.0)
BASELINE = (20.0, 30.0)  # seizures a month before the onset, at least (scale 1)
KG_BASELINE = (30.0, 45.0)

# Distractors, also drawn per seed: countries that stop reporting for a few months (not a
# decline) and one-month giant seizures (not a trend). A country with a gap or an outlier carries
# no level event of the same drug group (none at all for a gap).
GAP_COUNTRIES: tuple[str, ...] = ("PAK", "KEN", "PER", "UKR", "EGY", "IDN", "VNM", "TZA", "DZA",
                                  "GHA")
GAP_RANGE = ("2022-04", "2024-02")  # first month of a gap
GAP_MONTHS = (3, 4)
# A partial reporter: a country that sends only a fraction of its usual reports for some months
# (all drugs alike), then recovers: not a decline, and its recovery not a surge.
PARTIAL_COUNTRIES: tuple[str, ...] = ("TUR", "ZAF", "BEL", "RUS", "CAN", "POL", "MYS", "IND",
                                      "EGY")  # reporters large enough for a spell to matter
PARTIAL_RANGE = ("2022-04", "2023-10")  # first month of the partial spell
PARTIAL_MONTHS = (6, 8)
PARTIAL_SHARE = (0.1, 0.25)
# geo, substance, reported name, nominal kg (raised to 5x the series' biggest month), mode, origin
OUTLIER_CANDIDATES: tuple[tuple[str, str, str, float, str, str], ...] = (
    ("ITA", "cocaine hydrochloride", "Cocaine HCL", 5300.0, "sea", "COL"),
    ("AUS", "methamphetamine", "Crystal meth", 1600.0, "sea", "MMR"),
    ("FRA", "cannabis resin", "Hashish", 9000.0, "sea", "MAR"),
    ("DEU", "cocaine hydrochloride", "Cocaine", 4000.0, "sea", "COL"),
    ("MYS", "methamphetamine", "methamphetamine", 1200.0, "sea", "MMR"),
    ("GBR", "heroin", "Heroin", 900.0, "land", "AFG"),
)
OUTLIER_RANGE = ("2022-06", "2024-05")

# --- divisions below the country (issue 19) ---------------------------------------------------
# The countries whose reporters name the admin-1 division (department, state, province) of a
# seizure: the share of their records that name one, and each division's spellings and weight.
# The names are real divisions; the weights are invented. Colombia's spellings are the police's
# and UNODC's variants (data/reference/colombia_departments.csv maps them); elsewhere the
# variants differ only in case and accents, which the general rule folds.
DIVISION_SHARE: dict[str, float] = {"COL": .85, "ECU": .75, "MEX": .7, "ESP": .6}
DIVISIONS: dict[str, tuple[tuple[tuple[str, ...], float], ...]] = {
    "COL": ((("Antioquia", "ANTIOQUIA"), .26), (("Valle del Cauca", "VALLE"), .22),
            (("Bogotá, D.C.", "BOGOTA D.C."), .16), (("Nariño", "NARINO"), .12),
            (("Atlántico",), .1), (("Bolívar", "BOLIVAR"), .08), (("Putumayo",), .06)),
    "ECU": ((("Guayas", "GUAYAS"), .45), (("Pichincha",), .2), (("Manabí", "MANABI"), .15),
            (("El Oro",), .12), (("Esmeraldas",), .08)),
    "MEX": ((("Sinaloa",), .35), (("Baja California",), .3), (("Jalisco",), .2),
            (("Ciudad de México", "CIUDAD DE MEXICO"), .15)),
    "ESP": ((("Andalucía", "Andalucia"), .45), (("Cataluña", "CATALUÑA"), .25),
            (("Galicia",), .15), (("Madrid",), .15)),
}

# Modus operandi (issue 20), drawn per seed on a random stream of their own so that every other
# draw of the world stays the same: in one country and drug group, one concealment method grows
# from a small share to a large one (records rewritten, counts unchanged); in another, only
# completeness changes (a share of the records loses its concealment text, whatever the method).
# geo, drug level, drug, method gaining, texts written for it, story
CONCEALMENT_SHIFT_CANDIDATES: tuple[tuple[str, str, str, str, tuple[str, ...], str], ...] = (
    ("ESP", "group", COC, "body_carrier", ("swallowed", "body packer"),
     "Cocaine couriers swallow capsules on flights into Madrid"),
    ("GBR", "group", COC, "postal_parcel", ("parcel", "letter"),
     "Cocaine bought on darknet markets arrives by post"),
    ("NLD", "group", ATS, "postal_parcel", ("parcel", "express courier"),
     "Ecstasy and amphetamine sold online leave as parcels"),
    ("USA", "group", OPI, "postal_parcel", ("parcel", "express courier"),
     "Fentanyl pills shipped by express courier"),
    ("BRA", "group", COC, "body_carrier", ("swallowed", "body packer"),
     "Swallowers carry cocaine through São Paulo's airport"),
)
CONCEALMENT_DISTRACTOR_CANDIDATES: tuple[tuple[str, str, str], ...] = (
    ("ITA", "group", COC), ("FRA", "group", CAN), ("DEU", "group", COC), ("MEX", "group", CAN),
    ("POL", "group", ATS),
)
CONCEALMENT_SHARE = (.35, .55)  # share of the records rewritten once the ramp is over
CONCEALMENT_RAMP_MONTHS = 3
CONCEALMENT_BLANKED = (.5, .75)  # share of the distractor's records losing their text
