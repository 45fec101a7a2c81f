# SalesSphere data platform. Quick start: `make demo`, `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
SALESPHERE := $(BIN)/salesphere

.PHONY: setup demo test test-fast lint bench bench-real clean lock help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## create .venv and the emulators' environments (idempotent)
	@bash scripts/setup.sh

demo: setup  ## run the whole platform locally on generated data and show the results
	$(SALESPHERE) demo

test: setup  ## lint and run the full test suite (starts its own emulators)
	@bash scripts/setup-browser.sh
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

test-fast: setup  ## the fast lane: lint and every test that starts no emulator (under 2 minutes)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -m "not twin and not slow" -q -n auto --dist loadfile

lint: setup  ## ruff + import layers + sqlfluff + workflow checks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/sqlfluff lint salesphere/sql sql
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline .github/workflows

bench: setup  ## benchmarks with baselines and ratios (prints a table, writes bench-results.json)
	$(SALESPHERE) bench

bench-real: setup  ## the forecast and the order policy on every series of the M5 subset (writes out/)
	$(SALESPHERE) forecast evaluate --dataset m5 --json out/forecast-evaluate-m5.json
	$(SALESPHERE) replenishment simulate --dataset m5 --json out/replenishment-replay-m5.json

lock:  ## re-resolve requirements.lock from pyproject.toml (needs the registries)
	rm -rf /tmp/salesphere-lock && python3.11 -m venv /tmp/salesphere-lock
	/tmp/salesphere-lock/bin/pip install -q '.[dev]'
	/tmp/salesphere-lock/bin/pip freeze --exclude-editable | grep -v '^salesphere' > requirements.lock

clean:  ## stop the twin and remove generated state (keeps the environments)
	-$(SALESPHERE) local down
	rm -rf .twin out bench-results.json
