"""The planted cases of the synthetic world: batches across countries, lookalikes, singletons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.schema import SIGNATURE_COLUMNS
from features.synthetic_cases import plant_cases
from features.synthetic_world import _build_world, generate_world


@pytest.fixture(scope="module")
def small_world() -> tuple[pd.DataFrame, dict]:
    return generate_world(seed=3, scale=0.3)


def test_batches_span_countries_and_share_their_substance(small_world):
    frame, truth = small_world
    batches = truth["cases"]["batches"]
    assert len(batches) >= 20
    assert sum(len(b["countries"]) >= 2 for b in batches) >= 5
    by_id = frame.drop_duplicates("seizure_id").set_index("seizure_id")
    for batch in batches:
        members = by_id.loc[batch["seizures"]]
        assert len(members) >= 2
        assert members["profile"].notna().sum() + members["logo"].notna().sum() >= len(members)


def test_every_planted_seizure_is_in_one_batch_at_most(small_world):
    _, truth = small_world
    ids = [s for b in truth["cases"]["batches"] for s in b["seizures"]]
    assert len(ids) == len(set(ids))


def test_cases_leave_the_other_columns_as_a_world_without_them(small_world):
    frame, truth = small_world
    bare = frame.drop(columns=list(SIGNATURE_COLUMNS))
    again, cases = plant_cases(bare, _build_world(0.3, np.random.default_rng(3)), 3, 0.3)
    assert again.drop(columns=list(SIGNATURE_COLUMNS)).equals(bare)
    assert cases == truth["cases"]


def test_duplicate_rows_carry_the_same_signature(small_world):
    frame, _ = small_world
    dup = frame[frame["seizure_id"].duplicated(keep=False)]
    per_id = dup.groupby("seizure_id")[list(SIGNATURE_COLUMNS)].nunique(dropna=False)
    assert (per_id <= 1).all().all()
