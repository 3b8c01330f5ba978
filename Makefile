# The interface a newcomer uses: make demo, make test, make bench, make build, make deploy.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# sam build (without Docker) needs the Lambda runtime's Python on PATH. A pyenv install is
# preferred: pyenv's shims answer to python3.13 but fail unless 3.13 is the selected version.
PY313_DIR := $(shell d=$$(ls -d "$$(pyenv root 2>/dev/null)"/versions/3.13*/bin 2>/dev/null | tail -n 1); \
	if [ -n "$$d" ]; then echo "$$d"; else p=$$(command -v python3.13 2>/dev/null) && dirname "$$p"; fi)
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: demo test lint typecheck validate unit contract conformance conformance-tools integration e2e bench build deploy clean schemas

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.local-installed: pyproject.toml layers/citriage/requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml layers/citriage/requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.local-installed

## make demo: replay the bundled Zuul events through webhook -> analyze -> notify, locally.
demo: $(VENV)/.local-installed
	$(BIN)/citriage demo --events events --out out

## make test: lint, types, template validation, unit + integration + e2e tests.
test: lint typecheck validate unit contract conformance integration e2e

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy
	for fn in functions/*/app.py; do $(BIN)/mypy --config-file pyproject.toml "$$fn" || exit 1; done

validate: $(VENV)/.dev-installed
	$(BIN)/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --template-file template.yaml

unit: $(VENV)/.dev-installed
	$(BIN)/pytest -q tests/unit

## The real test runners of the conformance suite: a venv of their own, and npm packages.
RUNNERS := .venv-runners
$(RUNNERS)/.installed: tests/conformance/requirements.txt
	$(PYTHON) -m venv $(RUNNERS)
	$(RUNNERS)/bin/pip install --quiet --upgrade pip
	$(RUNNERS)/bin/pip install --quiet -r tests/conformance/requirements.txt
	touch $@

tests/conformance/js/node_modules/.installed: tests/conformance/js/package.json tests/conformance/js/package-lock.json
	cd tests/conformance/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

conformance-tools: $(RUNNERS)/.installed tests/conformance/js/node_modules/.installed

conformance: $(VENV)/.dev-installed conformance-tools
	CONFORMANCE_REQUIRED=1 $(BIN)/pytest -q tests/conformance

contract: $(VENV)/.dev-installed
	$(BIN)/pytest -q tests/contract

integration: $(VENV)/.dev-installed
	$(BIN)/pytest -q tests/integration

e2e: $(VENV)/.dev-installed
	$(BIN)/pytest -q tests/e2e

## make schemas: regenerate docs/schemas/ from the models (a unit test fails when they drift).
schemas: $(VENV)/.dev-installed
	$(BIN)/python -c 'from pathlib import Path; from citriage.models.schemas import CONTRACTS, schema_text; \
	[Path(f"docs/schemas/{n}.json").write_text(schema_text(n)) for n in CONTRACTS]'

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py

build: $(VENV)/.dev-installed
	@test -n "$(PY313_DIR)" || { echo "make build needs python3.13 (the Lambda runtime) on PATH or under pyenv"; exit 1; }
	PATH="$(PY313_DIR):$$PATH" SAM_CLI_TELEMETRY=0 $(BIN)/sam build

deploy: build
	SAM_CLI_TELEMETRY=0 $(BIN)/sam deploy

clean:
	rm -rf .aws-sam out .mypy_cache .ruff_cache .pytest_cache $(RUNNERS) tests/conformance/js/node_modules
