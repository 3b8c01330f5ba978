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

.PHONY: lock demo screenshots browser-tools test lint typecheck validate unit contract hostile conformance conformance-tools integrations-tools integration e2e bench load build deploy clean schemas

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# One venv for the demo and the tests, from the locks: the runtime's (what the layer ships) and
# the dev tools' (locked against it), so the tests run exactly what is deployed.
$(VENV)/.installed: layers/citriage/requirements.txt tests/requirements-dev.txt pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -r layers/citriage/requirements.txt -r tests/requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# SAM CLI and cfn-lint pin their own boto3 and pydantic: a venv of their own.
TOOLS := .venv-tools
$(TOOLS)/.installed: tests/requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet -r tests/requirements-tools.txt
	touch $@

## make lock: re-resolve the three locks (runtime, dev tools, SAM CLI/cfn-lint) with pip-tools.
LOCK := .venv-lock
COMPILE = $(LOCK)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links
lock:
	$(PYTHON) -m venv $(LOCK)
	$(LOCK)/bin/pip install --quiet pip-tools
	$(COMPILE) --output-file layers/citriage/requirements.txt pyproject.toml
	cd tests && ../$(COMPILE) --output-file requirements-dev.txt requirements-dev.in
	cd tests && ../$(COMPILE) --output-file requirements-tools.txt requirements-tools.in

## make demo: replay the bundled Zuul events through webhook -> analyze -> notify, locally.
demo: $(VENV)/.installed
	$(BIN)/citriage demo --events events --out out

## make test: lint, types, template validation, unit + integration + e2e tests.
test: lint typecheck validate unit contract conformance hostile integration e2e

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy
	for fn in functions/*/app.py; do $(BIN)/mypy --config-file pyproject.toml "$$fn" || exit 1; done

validate: $(TOOLS)/.installed
	$(TOOLS)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam validate --lint --template-file template.yaml

unit: $(VENV)/.installed
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

conformance: $(VENV)/.installed conformance-tools
	CONFORMANCE_REQUIRED=1 $(BIN)/pytest -q tests/conformance

## Hostile input: slow and broken log servers on loopback, fuzzed webhook payloads.
hostile: $(VENV)/.installed
	$(BIN)/pytest -q tests/hostile

contract: $(VENV)/.installed
	$(BIN)/pytest -q tests/contract

integration: $(VENV)/.installed
	$(BIN)/pytest -q tests/integration

## The tools the in-job steps (integrations/) are tested with: a venv of their own.
INTEGRATIONS := .venv-integrations
$(INTEGRATIONS)/.installed: tests/in_job/requirements.txt
	$(PYTHON) -m venv $(INTEGRATIONS)
	$(INTEGRATIONS)/bin/pip install --quiet --upgrade pip
	$(INTEGRATIONS)/bin/pip install --quiet -r tests/in_job/requirements.txt
	touch $@

integrations-tools: $(INTEGRATIONS)/.installed

## Debian's chromium and its chromedriver, for the dashboard's browser tests (and screenshots).
browser-tools:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

e2e: $(VENV)/.installed browser-tools integrations-tools
	$(BIN)/pytest -q tests/e2e

## make schemas: regenerate docs/schemas/ from the models (a unit test fails when they drift).
schemas: $(VENV)/.installed
	$(BIN)/python -c 'from pathlib import Path; from citriage.models.schemas import CONTRACTS, schema_text; \
	[Path(f"docs/schemas/{n}.json").write_text(schema_text(n)) for n in CONTRACTS]'

## make screenshots: the demo's mails in headless Chromium at 900 px and 390 px, under out/screenshots/.
screenshots: demo browser-tools
	$(BIN)/python tests/fixtures/screenshot_mails.py "$$(ls -d out/demo-* | tail -n 1)" out/screenshots

bench: $(VENV)/.installed
	$(BIN)/python bench/run.py

load: $(VENV)/.installed
	$(BIN)/python bench/load.py

build: $(TOOLS)/.installed
	@test -n "$(PY313_DIR)" || { echo "make build needs python3.13 (the Lambda runtime) on PATH or under pyenv"; exit 1; }
	PATH="$(PY313_DIR):$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam build
	@# sam build ships sources only, and /opt is read-only on Lambda: without bytecode every cold
	@# start compiled boto3, pydantic and citriage again (boto3 alone: 450 ms instead of 120 ms).
	@# Compiled with the runtime's Python; unchecked-hash, since a zip's file times are not kept.
	"$(PY313_DIR)/python3.13" -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

deploy: build
	SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam deploy

clean:
	rm -rf .aws-sam out .mypy_cache .ruff_cache .pytest_cache $(RUNNERS) $(INTEGRATIONS) tests/conformance/js/node_modules
