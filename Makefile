# geoapp: the two commands are `make run` and `make test`. Everything else is a step they use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: messages loadtest faults fuzz
.PHONY: run test setup system venv db migrate bootstrap assets lint typecheck check format bench bench-lookup stop-db worker

run: setup bootstrap ## serve the app with the real Kota Tangerang data on http://127.0.0.1:8000
	@echo "==> geoapp on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	$(PY) scripts/serve.py --host $(HOST) --port $(PORT)

test: setup ## the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

setup: system venv assets db migrate messages

messages: venv ## compile the translation files in locale/ (Bahasa Indonesia, English)
	@$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules --ignore=var -v 0

system:
	@bash scripts/ensure_system.sh

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> installing Python requirements into $(VENV)"
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

assets: venv
	@bash scripts/ensure_assets.sh

db:
	@bash scripts/ensure_db.sh

migrate: venv db
	@$(PY) manage.py migrate --noinput -v 0

bootstrap: migrate ## first start: the Kota Tangerang boundaries and the reference data
	@$(PY) manage.py bootstrap

worker: setup
	$(PY) manage.py run_worker

bench: setup ## every benchmark under bench/
	@for b in bench/bench_*.py; do echo "==> $$b"; $(PY) $$b || exit 1; done

bench-lookup: setup
	$(PY) bench/bench_lookup.py

lint: venv ## ruff's rules and format
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

typecheck: system venv ## mypy over the domain modules, against mypy-baseline.txt (which only shrinks)
	$(PY) scripts/typecheck.py

check: lint typecheck ## what CI runs before the tests

format: venv
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

stop-db:
	@bash scripts/stop_db.sh

loadtest: setup ## load: 300 phones, then 10,000 buffering devices, 11 consoles, citizens (~7 min; LOADTEST_ARGS to scale)
	$(PY) loadtest/run_load.py $(LOADTEST_ARGS)

faults: setup ## faults: PostgreSQL restarts, worker SIGKILL, Redis gone/back, media disk full, ingestion SIGKILL; then the long fuzz
	$(PY) loadtest/run_faults.py $(FAULTS_ARGS)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-40} $(PY) -m pytest tests/security/test_api_fuzz.py -q -p no:cacheprovider

fuzz: setup ## schemathesis over every operation with many examples (FUZZ_EXAMPLES, default 40)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-40} $(PY) -m pytest tests/security/test_api_fuzz.py -q -p no:cacheprovider
