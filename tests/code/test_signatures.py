"""Signature columns at ingest: normalised, and malformed ones quarantined with their reason."""

from __future__ import annotations

import pandas as pd

from features.ingest import normalise_records
from features.schema import Reason
from features.signatures import logo_key, parse_profile

TODAY = pd.Timestamp("2025-06-01")


def _canonical(**signature: list[object]) -> pd.DataFrame:
    n = len(next(iter(signature.values())))
    base = {"seizure_id": [f"S{i}" for i in range(n)], "date": ["2024-01-05"] * n,
            "country": ["NLD"] * n, "drug": ["MDMA"] * n, "quantity": ["100"] * n,
            "unit": ["tablets"] * n}
    return pd.DataFrame({**base, **signature}, dtype=object)


def test_ingest_normalises_logo_colour_weight_and_profile():
    frame = _canonical(logo=[" Tesla ", "TESLA"], colour=["Rose", "gray"],
                       shape=["Circular", "rond"], unit_weight_g=["350 mg", "0.35"],
                       purity_pct=["78 %", "78"], packaging=["Blue  tape", None],
                       profile=["MDMA=80; caffeine=5;Lactose=15", "b=1;a=2;c=0"])
    records, reasons = normalise_records(frame, "f.csv", TODAY)
    assert reasons.isna().all()
    assert records["logo"].tolist() == ["tesla", "tesla"]
    assert records["colour"].tolist() == ["pink", "grey"]
    assert records["shape"].tolist() == ["round", "round"]
    assert records["unit_weight_g"].tolist() == [0.35, 0.35]
    assert records["purity_pct"].tolist() == [78.0, 78.0]
    assert records["packaging"].tolist() == ["blue tape", None]
    assert records["profile"].tolist() == ["caffeine=5;lactose=15;mdma=80", "a=2;b=1;c=0"]


def test_ingest_quarantines_malformed_signatures_with_their_reason():
    frame = _canonical(unit_weight_g=["heavy", "-1", None, None, None, None],
                       purity_pct=[None, None, "140", None, None, None],
                       profile=[None, None, None, "a=1;b=2", "a=1;b=-2;c=3", "a=1;b;c=2"])
    _, reasons = normalise_records(frame, "f.csv", TODAY)
    assert reasons.tolist() == [Reason.MALFORMED_UNIT_WEIGHT, Reason.MALFORMED_UNIT_WEIGHT,
                                Reason.MALFORMED_PURITY, Reason.MALFORMED_PROFILE,
                                Reason.MALFORMED_PROFILE, Reason.MALFORMED_PROFILE]


def test_signature_reason_does_not_override_an_earlier_reason():
    frame = _canonical(profile=["a=1"]).assign(quantity=["-5"])
    _, reasons = normalise_records(frame, "f.csv", TODAY)
    assert reasons.tolist() == [Reason.NON_POSITIVE_QUANTITY]


def test_parse_profile_rejects_repeated_compound():
    assert parse_profile("a=1;a=2;b=3;c=4") is None
    assert parse_profile("a=1;b=2;c=3;") == {"a": 1.0, "b": 2.0, "c": 3.0}


def test_logo_key_ignores_case_and_punctuation():
    keys = logo_key(pd.Series(["T-E-S-L-A", "tesla ", None, "!!"], dtype=object))
    assert keys.astype(object).tolist()[:2] == ["tesla", "tesla"]
    assert keys.isna().tolist()[2:] == [True, True]
