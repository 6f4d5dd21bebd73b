# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates .venv with a suitable Python (3.11 or 3.12: durable-rules 2.0.28 does not import
# on 3.13) and installs the project into it.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.bcm-installed

# The first interpreter on PATH whose version fits, in order of preference.
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' >/dev/null 2>&1; then \
	echo $$p; break; fi; done)

.PHONY: demo test lint typecheck unit custom-pack fuzz bench mutation clean

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "bcm needs Python 3.11 or 3.12 (durable-rules 2.0.28 does not import on 3.13)."; \
	  echo "None of python3.12, python3.11, python3 on PATH fits; install one or run 'make PYTHON=/path/to/python3.12 test'."; \
	  exit 2; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	@bash scripts/demo.sh

test: $(STAMP) lint typecheck unit custom-pack

lint: $(STAMP)
	$(BIN)/ruff check checker tests bench
	$(BIN)/ruff format --check checker tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

# A user's project outside this repository's tests, using the shipped step library.
custom-pack: $(STAMP)
	cd examples/custom-pack && ../../$(BIN)/pytest -q -p no:cacheprovider

# Disable each default rule in turn; some scenario must fail each time.
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py

fuzz: $(STAMP)
	BCM_FUZZ=1 $(BIN)/pytest -q -m slow tests

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
