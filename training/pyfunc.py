"""The registered model: what serving needs to answer forecasts, as one MLflow pyfunc.

The bundle holds the forecast table of its training run and the per-series choice of models, as
artifacts; ``predict`` takes a frame of ``unique_id`` (and optionally ``h``, the number of
periods wanted) and returns those series' forecasts in the export contract's columns. Loading
``models:/<name>@champion`` therefore serves exactly what that run forecast.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from core.home import FORECAST_COLUMNS


def bundle_signature() -> ModelSignature:
    """Input: ``unique_id`` (and optional ``h``); output: the forecast contract's columns."""
    inputs = Schema([ColSpec("string", "unique_id"), ColSpec("long", "h", required=False)])
    outputs = Schema([ColSpec("string", "unique_id"), ColSpec("datetime", "ds"),
                      *[ColSpec("double", c) for c in FORECAST_COLUMNS[2:7]],
                      ColSpec("string", "model")])
    return ModelSignature(inputs=inputs, outputs=outputs)


class ForecastBundle(mlflow.pyfunc.PythonModel):
    """Forecasts and per-series model choices of one training run."""

    def load_context(self, context: Any) -> None:
        self.forecasts_ = pd.read_parquet(context.artifacts["forecasts"])
        self.choices_ = pd.read_parquet(context.artifacts["choices"])

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Forecast rows of the requested series (all series when ``unique_id`` is absent),
        the first ``h`` periods when ``h`` is given; unknown series give no rows."""
        table = self.forecasts_
        if "unique_id" in model_input.columns:
            wanted = model_input["unique_id"].astype(str)
            table = table[table["unique_id"].isin(set(wanted))]
        if "h" in model_input.columns and model_input["h"].notna().any():
            h = int(model_input["h"].dropna().max())
            table = table[table.groupby("unique_id").cumcount() < h]
        return table[FORECAST_COLUMNS].reset_index(drop=True)
