# painclinic — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help run test lint format typecheck test-sqlite test-postgres test-browser bench venv node-deps pdf-libs clean-venv

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml requirements.lock
	@PYTHON=$$(scripts/find-python.sh) || exit 1; \
	  if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$PYTHON"; $$PYTHON -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

venv: $(VENV)/.installed ## create .venv from the lock file

# axe-core (accessibility checks in the browser journeys), pinned by package-lock.json.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund
	@touch $@

node-deps: node_modules/axe-core/axe.min.js ## npm packages the browser journeys need (axe-core)

pdf-libs: ## Pango and a font for WeasyPrint's PDFs (apt-get when missing and run as root)
	@scripts/ensure-pdf-libs.sh

run: venv pdf-libs ## set up, migrate, load demo data, start the worker, serve on http://127.0.0.1:8000
	$(BIN)/painclinic demo --host $(HOST) --port $(PORT)
	@# The background worker (follow-up reminders appear on this console) stops with the server.
	@$(BIN)/painclinic worker & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/painclinic serve --host $(HOST) --port $(PORT)

lint: venv ## ruff, ruff format --check, mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: venv ## apply ruff format and autofixes
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test-sqlite: venv pdf-libs ## the suite on SQLite (browser journeys included)
	$(BIN)/pytest -q -p xdist -n 2 -m "not browser"
	$(MAKE) --no-print-directory test-browser

test-browser: venv node-deps
	@scripts/ensure-chromium.sh
	$(BIN)/pytest -q -m browser

test-postgres: venv pdf-libs ## the suite on PostgreSQL (required when CI=true)
	@scripts/run-postgres-suite.sh

test: lint test-sqlite test-postgres ## lint, type check, SQLite suite, PostgreSQL suite, browser journeys

bench: venv ## benchmarks; JSON results under bench/results/
	@mkdir -p bench/results
	$(PY) bench/run.py

clean-venv:
	rm -rf $(VENV)
