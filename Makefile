# The two commands a newcomer needs: `make up` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint unit compiled install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

## Start the whole platform in one process on SQLite, with demo instruments and traders.
up: $(STAMP)
	$(BIN)/openbell up --demo

## Run every check CI runs: lint gates, the whole test suite, and the compiled core's tests.
test: lint compiled unit

lint: $(STAMP)
	$(BIN)/ruff check src benchmarks tests setup.py
	$(BIN)/ruff format --check src benchmarks tests setup.py
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r src benchmarks
	$(BIN)/lint-imports

## Branch coverage of src/openbell, servers started by the tests included; below the floor
## (fail_under in pyproject.toml) the run fails. COVERAGE_FILE is absolute so that servers
## started in other directories write their data where it is combined.
unit: $(STAMP)
	COVERAGE_FILE=$(CURDIR)/.coverage $(BIN)/pytest --cov --cov-report=term

## Build the wheel as users install it (the core compiled with mypyc) and run the core's
## tests against it, so the compiled and the pure-Python core can never drift apart.
compiled: $(STAMP)
	rm -rf .venv-compiled
	$(PYTHON) -m venv .venv-compiled
	.venv-compiled/bin/python -m pip install --quiet --upgrade pip
	.venv-compiled/bin/python -m pip install --quiet '.[dev]'
	.venv-compiled/bin/python -c "import sys, openbell.core.domain.market as m; sys.exit(m.__file__.endswith('.py'))"
	.venv-compiled/bin/pytest -p no:cacheprovider tests/unit/test_matching.py tests/unit/test_ledger.py \
		tests/unit/test_sequencer.py tests/unit/test_recovery.py tests/unit/test_state.py tests/property

clean:
	rm -rf $(VENV) .venv-compiled build .mypy_cache .pytest_cache .ruff_cache .coverage .coverage.*
