# Bastion: `make run` to serve, `make test` to check everything. `make help` lists the rest.
# Each target sets itself up: the venv and dependencies are (re)installed when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
APP_STAMP := $(VENV)/.installed-app
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test lint fmt test-sqlite test-postgres coverage system-deps clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/bin/python:
	@$(PYTHON) scripts/check_python.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(APP_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet --editable .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet --editable '.[dev]'
	@touch $@ $(APP_STAMP)

run: $(APP_STAMP) ## Set up (venv, dependencies, data dir, migrations, keys) and serve Bastion with its worker
	$(BIN)/bastion migrate --noinput
	$(BIN)/bastion run

system-deps: ## Install the Debian packages the tests need (gnupg, sqop, postgresql, chromium, dovecot) if missing
	@scripts/system-deps.sh

lint: $(DEV_STAMP) ## Lint, format check, types, import contracts, migrations in step with models
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bastion
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

fmt: $(DEV_STAMP) ## Format the code and apply safe lint fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-sqlite: $(DEV_STAMP) ## Run the suite on SQLite (with coverage data)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)

test-postgres: $(DEV_STAMP) ## Run the suite on a throw-away PostgreSQL (started and stopped by its pid)
	scripts/with-postgres.sh $(BIN)/coverage run -m pytest -m "not browser" $(PYTEST_ARGS)

coverage: $(DEV_STAMP) ## Combine both runs and enforce the branch-coverage gate
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

test: system-deps lint test-sqlite test-postgres coverage ## Everything CI checks: lint, then the suite on SQLite and PostgreSQL, coverage >= 95 %

clean: ## Remove the venv and caches (keeps var/, your data)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage .coverage.* htmlcov build *.egg-info
