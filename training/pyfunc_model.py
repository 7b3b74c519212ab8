"""The file MLflow logs as the registered model (models-from-code): it names the model class, and
the forecasts and choices travel as artifacts. Nothing is pickled, so loading a version runs this
reviewed file rather than deserialising an object."""

import mlflow

from training.pyfunc import ForecastBundle

mlflow.models.set_model(ForecastBundle())
