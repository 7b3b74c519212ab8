"""Feature pipelines: ingest, normalise, series and route flows."""
