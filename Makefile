# MedLedger: `make run` starts the consortium (medledger up; flags in ARGS, e.g. make run ARGS="--api-port 9000"), `make test` runs everything CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers for `make test` (CI has 2 cores); tests/conftest.py groups the tests.
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck slither clean setup system-deps

run: setup
	$(BIN)/medledger up $(ARGS)

test: setup lint typecheck slither
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=25

setup: $(STAMP) node_modules/.package-lock.json system-deps

system-deps:
	@bash scripts/system_deps.sh

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python >= 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js >= 18 with npm (Debian: apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

slither: setup
	$(BIN)/python -m scripts.slither_check

clean:
	rm -rf $(VENV) node_modules build .mypy_cache .ruff_cache .pytest_cache
