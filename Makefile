# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080
DATA   ?= data

.PHONY: run test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-deps: pyproject.toml setup.py src/parley/gateway/_sender.c src/parley/storage/sqlite/_syncer.c src/parley/_worker.h | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-deps: pyproject.toml setup.py src/parley/gateway/_sender.c src/parley/storage/sqlite/_syncer.c src/parley/_worker.h | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.run-deps

## Serve on embedded defaults (SQLite shards under $(DATA)/, in-process bus) with a demo workspace.
run: $(VENV)/.run-deps
	$(BIN)/parley serve --demo --host $(HOST) --port $(PORT) --data-dir $(DATA)

## Install the dev dependencies and run the whole suite.
test: $(VENV)/.dev-deps
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .ruff_cache
