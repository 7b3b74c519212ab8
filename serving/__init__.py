"""Settings, command line, service database, HTTP API, dashboard and alert delivery."""
