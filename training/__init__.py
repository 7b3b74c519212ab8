"""Backtests, metrics, model selection, MLflow runs and promotion."""
