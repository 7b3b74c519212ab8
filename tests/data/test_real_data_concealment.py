"""The UNODC IDS file's concealment mix per region and its modus operandi shifts 2011-2016.

Ingest and route flows once (session fixture); the detector is run every six months from 2013-06
(a 24-month baseline needs 2011-2012 behind it) to 2016-12, with one Benjamini-Hochberg
correction over all its tests. Each shift found must still hold on an independent check: the
records with a known method, in the countries that report methods in both windows, each named
method tested by statsmodels' Cochran-Mantel-Haenszel test stratified by reporting country.
`shifts_found` prints the list with its evidence (`pytest -s`), for the closing note.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable

from core.settings import Settings
from features.concealment import METHODS
from features.ingest import ingest_files, read_records
from features.routes import build_route_flows
from models.modus_operandi import scan_modus_operandi
from models.route_shift import OTHER, Windows
from training.detection_config import DetectionConfig
from training.detection_engine import benjamini_hochberg

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

IDS_FILE = "unodc_ids_2011_2016/drug-trafficking-unodc.csv"
AS_OF = pd.date_range("2013-06-01", "2016-12-01", freq="6MS")
CONFIG = DetectionConfig()  # the gates of a detection run
FDR, MIN_EFFECT = CONFIG.false_discovery_rate, CONFIG.mo_min_effect


@pytest.fixture(scope="module")
def ids_flows(shared_data: Path, tmp_path_factory) -> pd.DataFrame:
    settings = Settings(home=tmp_path_factory.mktemp("ids_concealment"))
    ingest_files([shared_data / IDS_FILE], "unodc-ids", settings)
    records = read_records(settings)
    return build_route_flows(records[records["date"] >= "2011-01-01"])


def shifts_found(flows: pd.DataFrame) -> pd.DataFrame:
    """Every (as-of, drug, geo) test of the scan, with its q-value over all of them, and the
    shifts: q <= 5%, Cramér's V >= 0.2, a method named gaining or losing (the run's gates)."""
    tests = []
    for as_of in AS_OF:
        found = scan_modus_operandi(flows[flows["ds"] <= as_of], Windows.ending(as_of, 6, 24),
                                    min_total=CONFIG.mo_min_total,
                                    min_share_change=CONFIG.mo_min_share_change)
        tests.append(found.assign(as_of=as_of))
    tests = pd.concat(tests, ignore_index=True)
    tests["q_value"] = benjamini_hochberg(tests["p_value"].to_numpy(float))
    named = tests["gaining"].str.len().gt(0) | tests["losing"].str.len().gt(0)
    return tests[(tests["q_value"] <= FDR) & (tests["cramers_v"] >= MIN_EFFECT) & named]


def within_reporters_p(flows: pd.DataFrame, shift: pd.Series, method: str) -> float:
    """Independent check of one named method of a shift (statsmodels, from the flows): the
    Cochran-Mantel-Haenszel test of its share (against the other known methods) between the
    windows, stratified by the reporting countries of the geo that report a known method in
    both windows."""
    windows = Windows.ending(shift["as_of"], 6, 24)
    column = "drug_group" if shift["drug_level"] == "group" else "substance"
    place = "country" if shift["geo_level"] == "country" else "region"
    ds = pd.to_datetime(flows["ds"])
    part = flows[(flows[column] == shift["drug"]) & (flows[place] == shift["geo"])
                 & ds.between(windows.baseline_start, windows.recent_end)]
    part = part[part["concealment_method"].notna() & (part["concealment_method"] != "unknown")]
    part = part.assign(recent=pd.to_datetime(part["ds"]) >= windows.recent_start,
                       named=part["concealment_method"] == method)
    tables = []
    for _, seen in part.groupby("country"):
        cells = seen.groupby(["recent", "named"])["seizures"].sum()
        table = np.array([[cells.get((w, True), 0), cells.get((w, False), 0)]
                          for w in (True, False)], dtype=float)
        if table[0].sum() > 0 and table[1].sum() > 0:  # reports methods in both windows
            tables.append(table)
    if not tables:
        return 1.0
    return float(StratifiedTable(tables).test_null_odds(correction=False).pvalue)


def test_ids_concealment_mix_per_region_is_known_for_a_minority_and_sums_to_one(ids_flows):
    flows = ids_flows.assign(year=pd.to_datetime(ids_flows["ds"]).dt.year)
    method = flows["concealment_method"].fillna("unknown")
    known = flows[method != "unknown"]
    mix = known.groupby(["year", "region", "concealment_method"])["seizures"].sum()
    share = mix / mix.groupby(level=["year", "region"]).transform("sum")
    assert share.groupby(level=["year", "region"]).sum().round(9).eq(1).all()
    assert set(known["concealment_method"]) <= set(METHODS)
    known_share = (known.groupby("year")["seizures"].sum() / flows.groupby("year")["seizures"]
                   .sum())
    # Colombia's 2014 records (62% of the file) say nothing of the method
    assert known_share[2014] < known_share[2011] / 2
    # what the regions are known for: Oceania's post, Africa's and Asia's luggage
    overall = known.groupby(["region", "concealment_method"])["seizures"].sum()
    top = overall.groupby(level="region").idxmax().map(lambda key: key[1])
    assert top["Oceania"] == "postal_parcel"
    assert top["Africa"] == "luggage" and top["Asia"] == "luggage"


@pytest.mark.timeout(900)
def test_ids_shifts_hold_within_reporting_countries_with_known_methods(ids_flows):
    shifts = shifts_found(ids_flows)
    assert len(shifts) > 0
    for _, shift in shifts.iterrows():
        assert shift["reporters"] >= 1
        assert OTHER not in shift["gaining"]
        for method in [*shift["gaining"], *shift["losing"]]:
            assert within_reporters_p(ids_flows, shift, method) < FDR, (method, shift.to_dict())
    print_shifts(shifts)


def print_shifts(shifts: pd.DataFrame) -> None:
    """The shifts with their evidence, strongest first (for the closing note; `pytest -s`)."""
    for _, s in shifts.sort_values("q_value").iterrows():
        moved = [f"{m} {s['shares'][m][0]:.0%}->{s['shares'][m][1]:.0%}"
                 for m in [*s["gaining"], *s["losing"]]]
        print(f"{s['as_of']:%Y-%m} {s['geo_level']} {s['geo']} {s['drug_level']} {s['drug']}: "
              f"{'; '.join(moved)} | known {s['known_method_share']} | n {s['baseline_total']:.0f}"
              f"/{s['recent_total']:.0f} | reporters {s['reporters']} | V {s['cramers_v']:.2f} | "
              f"q {s['q_value']:.1e}")
