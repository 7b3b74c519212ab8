# Two commands on a fresh machine: `make run` and `make test`.
SHELL  := /bin/bash
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean venv

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 2; }
	@test -x $(PY) || { echo "creating the virtual environment $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing pip, then Narcotrend and its dependencies from pyproject.toml into $(VENV)"
	@echo "(pandas, statsforecast, MLflow, FastAPI, Altair, vl-convert ...; about a minute, once)"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -e '.[dev]' | grep --line-buffered -E '^(Collecting|Successfully)' \
		| sed -u 's/^Collecting /  fetching /'; test $${PIPESTATUS[0]} -eq 0
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/narcotrend run

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
