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

.PHONY: demo test lint typecheck unit ja-fonts custom-pack fuzz bench mutation clean

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "bcm needs Python 3.11 or 3.12 (durable-rules 2.0.28 does not import on 3.13)."; \
	  echo "None of python3.12, python3.11, python3 on PATH fits; install one or run 'make PYTHON=/path/to/python3.12 test'."; \
	  exit 2; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP) ja-fonts
	@bash scripts/demo.sh

test: $(STAMP) lint typecheck unit custom-pack

lint: $(STAMP)
	$(BIN)/ruff check checker tests bench fuzz scripts
	$(BIN)/ruff format --check checker tests bench fuzz scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# A font with Japanese glyphs for the Japanese words of trajectory charts (fonts-ipafont-gothic,
# 3.5 MB) from the distribution's packages, when none is installed and we are root; without one,
# charts are drawn with English words.
JA_FONTS = if ! $(BIN)/python -c 'from checker.trajectory import japanese_font as f; raise SystemExit(f() is None)' \
	  && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing fonts-ipafont-gothic for the Japanese words of charts"; \
	  { apt-get install -y -qq --no-install-recommends fonts-ipafont-gothic \
	    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-ipafont-gothic; }; \
	  } >/dev/null 2>&1 || echo "could not install it: charts will have English words"; \
	fi

ja-fonts: $(STAMP)
	@export DEBIAN_FRONTEND=noninteractive; $(JA_FONTS)

# With CI=true or BCM_TEST_POSTGRES=1 the store and service tests run against PostgreSQL too: a
# throwaway server on loopback (scripts/postgres.sh installs PostgreSQL first if it must), stopped
# after. Without them, and without BCM_TEST_POSTGRES_URL, those tests are skipped, saying so.
unit: $(STAMP)
	@if [ -z "$$BCM_TEST_POSTGRES_URL" ] && { [ "$$CI" = true ] || [ "$$BCM_TEST_POSTGRES" = 1 ]; }; then \
	  url=$$(bash scripts/postgres.sh start) || exit $$?; \
	  trap 'bash scripts/postgres.sh stop' EXIT; \
	  echo "PostgreSQL for the tests: $$url"; \
	  if [ "$$CI" = true ]; then export DEBIAN_FRONTEND=noninteractive; $(JA_FONTS); fi; \
	  BCM_TEST_POSTGRES_URL=$$url $(BIN)/pytest -q; \
	else \
	  $(BIN)/pytest -q; \
	fi

# A user's project outside this repository's tests, using the shipped step library.
custom-pack: $(STAMP)
	cd examples/custom-pack && ../../$(BIN)/pytest -q -p no:cacheprovider

# Disable each default rule in turn; some scenario must fail each time.
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py

# Every fuzzing part, each for a bounded time (under ten minutes on two cores): the slow
# property suites and tests/hostile with their BCM_FUZZ=1 budgets, the larger schemathesis run,
# and the atheris harnesses of fuzz/. `python fuzz/run.py --help` runs some parts, or longer.
fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
