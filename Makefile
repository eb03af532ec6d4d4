# One entry point. `make demo` and `make test` work on a fresh machine with
# Python 3.11 and access to the package registries.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-data
DEMO_REQUESTS ?= 20000
DEMO_SEED ?= 7

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_PROFILES_DIR := $(CURDIR)
export TRELLIS_DUCKDB_PATH ?= $(CURDIR)/warehouse.duckdb

.PHONY: demo test install lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# bytecode of the editable package, as pip writes it for the others: every
	# `trellis` command would otherwise compile its modules again wherever
	# PYTHONDONTWRITEBYTECODE is set
	$(BIN)/python -m compileall -q python
	touch $(STAMP)

install: $(STAMP)

## Set up, generate demo traffic, ingest it and build the warehouse on DuckDB.
demo: $(STAMP)
	$(BIN)/trellis demo --requests $(DEMO_REQUESTS) --seed $(DEMO_SEED) --out $(DEMO_DIR)

## Set up and run the whole suite (DuckDB and a real PostgreSQL).
test: $(STAMP)
	$(BIN)/ruff check python tests bench
	$(BIN)/mypy
	$(BIN)/sqlfluff lint models --processes 2
	$(BIN)/pytest tests

lint: $(STAMP)
	$(BIN)/ruff check python tests bench
	$(BIN)/ruff format --check python tests bench
	$(BIN)/sqlfluff lint models

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py

clean:
	rm -rf $(VENV) target logs warehouse.duckdb $(DEMO_DIR)
