"""The contract every forecaster keeps (scikit-learn's estimator rules, on our panels): its
parameters round-trip through ``get_params``/``clone``, ``__init__`` only stores them and
``fit`` refuses bad ones by name, ``predict`` on an unfitted model raises ``NotFittedError`` and
on a fitted one changes nothing in it."""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from core.errors import NarcotrendError
from models.base import Forecaster, to_panel
from models.baselines import Drift, Naive, SeasonalNaive, WindowMean, WindowMedian
from models.global_gbm import GlobalGBM
from models.intermittent import TSB, Croston
from models.statistical import ARIMA, ETS, Theta

EVERY_FORECASTER = [Naive, SeasonalNaive, Drift, WindowMean, WindowMedian, ETS, ARIMA, Theta,
                    Croston, TSB, GlobalGBM]
FAST = {GlobalGBM: {"max_iter": 5}}
# One bad value per parameter every forecaster shares, and the words the error must use.
SHARED_BAD = {"on_error": ("skip", "'nan' or 'raise'"), "nonnegative": ("yes", "True or False"),
              "alias": ("", "non-empty string"), "season_length": (0, "integer >= 1"),
              "transform": ("log", "None or 'log1p'")}


def make(cls: type[Forecaster], **params) -> Forecaster:
    return cls(**{**FAST.get(cls, {}), **params})


def panel_frame() -> pd.DataFrame:
    """Three monthly series: seasonal, sparse, and one with no observation at all."""
    rng = np.random.default_rng(0)
    n = 48
    ys = {"seasonal": 50 + 10 * np.sin(np.arange(n) * np.pi / 6) + rng.normal(0, 1, n),
          "sparse": (rng.random(n) < 0.2) * 3.0, "empty": np.full(n, np.nan)}
    return pd.concat([pd.DataFrame({"unique_id": uid, "y": y,
                                    "ds": pd.date_range("2018-01-01", periods=n, freq="MS")})
                      for uid, y in ys.items()], ignore_index=True)


def test_every_forecaster_of_the_models_package_is_in_the_contract():
    import models.baselines
    import models.global_gbm
    import models.intermittent
    import models.statistical

    found = {cls for module in (models.baselines, models.global_gbm, models.intermittent,
                                models.statistical)
             for _, cls in inspect.getmembers(module, inspect.isclass)
             if issubclass(cls, Forecaster) and not cls.__name__.startswith("_")
             and cls.__module__ == module.__name__}
    assert found == set(EVERY_FORECASTER)


@pytest.mark.parametrize("cls", EVERY_FORECASTER, ids=lambda c: c.__name__)
def test_every_parameter_has_a_rule_checked_in_fit(cls):
    params = make(cls).get_params()
    assert set(params) <= set(cls.parameter_rules), set(params) - set(cls.parameter_rules)


@pytest.mark.parametrize("cls", EVERY_FORECASTER, ids=lambda c: c.__name__)
def test_get_params_and_clone_round_trip(cls):
    model = make(cls, alias="custom")
    params = model.get_params()
    twin = clone(model)
    assert twin is not model and type(twin) is cls
    assert twin.get_params() == params
    assert cls(**params).get_params() == params


@pytest.mark.parametrize("cls", EVERY_FORECASTER, ids=lambda c: c.__name__)
def test_init_stores_a_bad_value_and_fit_refuses_it_by_name(cls):
    df = panel_frame()
    for name, (bad, expected) in SHARED_BAD.items():
        if name not in make(cls).get_params():
            continue
        model = make(cls, **{name: bad})  # __init__ only stores
        assert getattr(model, name) == bad
        with pytest.raises(NarcotrendError, match=f"`{name}` of {cls.__name__} must be") as err:
            model.fit(df)
        assert expected in str(err.value) and repr(bad) in str(err.value)
        with pytest.raises(NarcotrendError, match=f"`{name}`"):
            make(cls, **{name: bad}).fit_panel(to_panel(df))


@pytest.mark.parametrize(("model", "name"), [
    (WindowMedian(window=0), "window"), (WindowMean(window=2.5), "window"),
    (Croston(alpha=1.5), "alpha"), (TSB(alpha_p=0), "alpha_p"), (ETS(model="XYZ"), "model"),
    (Theta(model="BEST"), "model"), (ARIMA(max_p=-1), "max_p"),
    (GlobalGBM(lags=()), "lags"), (GlobalGBM(learning_rate=-0.1), "learning_rate"),
], ids=lambda v: v if isinstance(v, str) else type(v).__name__)
def test_family_parameters_are_checked_in_fit(model, name):
    with pytest.raises(NarcotrendError, match=f"`{name}` of {type(model).__name__} must be"):
        model.fit(panel_frame())


@pytest.mark.parametrize("cls", EVERY_FORECASTER, ids=lambda c: c.__name__)
def test_predict_before_fit_raises_not_fitted(cls):
    with pytest.raises(NotFittedError):
        make(cls).predict(3)
    with pytest.raises(NotFittedError):
        make(cls).predict_panel(3)


@pytest.mark.parametrize("cls", EVERY_FORECASTER, ids=lambda c: c.__name__)
def test_predict_leaves_the_fitted_model_unchanged(cls):
    model = make(cls).fit(panel_frame())
    before = pickle.dumps(model.__dict__)
    keys = set(model.__dict__)
    first = model.predict(6)
    arrays = model.predict_panel(3, (80,))
    assert set(model.__dict__) == keys
    assert pickle.dumps(model.__dict__) == before
    # the series with no observation is NaN and named, by the prediction rather than the model
    assert first.loc[first["unique_id"] == "empty", model.alias].isna().all()
    assert "empty" in arrays.failures
    assert first.loc[first["unique_id"] == "seasonal", model.alias].notna().all()
    # the same call twice gives the same forecast
    pd.testing.assert_frame_equal(model.predict(6), first)


def test_a_forecast_that_fails_in_predict_is_reported_in_its_result_not_the_model():
    class BreaksOnLongHorizons(Naive):
        def _forecast_one(self, state, h, levels):
            if h > 4:
                raise RuntimeError("horizon too long")
            return super()._forecast_one(state, h, levels)

    model = BreaksOnLongHorizons().fit(panel_frame())
    fitted_failures = dict(model.failures_)
    arrays = model.predict_panel(6)
    assert arrays.failures["seasonal"] == "RuntimeError: horizon too long"
    assert np.isnan(arrays.mean).all()
    assert model.failures_ == fitted_failures
    assert "seasonal" not in model.predict_panel(3).failures
