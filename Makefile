# Tra: `make demo` runs the portal on its embedded defaults; `make test` runs the whole suite.
# Both set up what they need on a fresh Debian 12 machine (apt packages, venv, pip, npm).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export PORTAL_BASE_URL ?= http://127.0.0.1:$(PORT)

APT_PACKAGES := fonts-thai-tlwg libharfbuzz-subset0 poppler-utils zbar-tools softhsm2 gettext qpdf
APT_TEST_PACKAGES := chromium libnss3-tools

.PHONY: demo test serve setup apt apt-test translations messages lint bench bench-load clean-demo npm-test-deps

## demo: set up everything and run the portal on http://127.0.0.1:$(PORT)
demo: setup
	PORTAL_ENV=development $(BIN)/flask --app wsgi db upgrade
	PORTAL_ENV=development $(BIN)/flask --app wsgi portal init
	@echo "Tra is starting on $(PORTAL_BASE_URL)  (sample logins: see README.md)"
	PORTAL_ENV=development $(BIN)/flask --app wsgi run --host 127.0.0.1 --port $(PORT) --with-threads

## test: set up, make sure PostgreSQL and Redis run, run the whole suite
test: setup apt-test npm-test-deps
	scripts/ensure-services.sh
	$(BIN)/ruff check .
	PORTAL_ENV=testing $(BIN)/python -m pytest -q $(PYTEST_ARGS)

## serve: production shape (migrations, gunicorn + RQ_WORKERS issuance workers) from environment variables only
serve: setup
	PORTAL_ENV=production PORT=$(PORT) VENV_BIN=$(BIN) scripts/serve.sh

setup: apt $(VENV)/.installed translations

apt:
	@scripts/apt-install.sh $(APT_PACKAGES)

apt-test:
	@scripts/apt-install.sh $(APT_TEST_PACKAGES)

# npm packages the suite uses, each installed from its lock file when it changed: the test OpenID
# Providers (oidc-provider) and axe-core for the accessibility checks.
NPM_TEST_DIRS := tests/oidc_provider tests/axe
npm-test-deps: $(NPM_TEST_DIRS:%=%/node_modules/.package-lock.json)

tests/%/node_modules/.package-lock.json: tests/%/package-lock.json tests/%/package.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is needed for the tests' npm packages" >&2; exit 1; }
	cd tests/$* && npm ci --no-audit --no-fund
	touch $@

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

translations: $(VENV)/.installed
	@$(BIN)/pybabel compile -d portal/translations 2>&1 | grep -v "^compiling" || true

## messages: after changing UI text, refresh the Thai catalogue (then translate what is empty)
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o portal/translations/messages.pot . >/dev/null
	$(BIN)/pybabel update --no-fuzzy-matching -i portal/translations/messages.pot -d portal/translations
	rm portal/translations/messages.pot

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: setup
	PORTAL_ENV=testing $(BIN)/python bench/issue.py

clean-demo:
	rm -rf instance

## bench-load: the portal under load in its production shape (gunicorn, PostgreSQL, Redis, RQ workers)
bench-load: setup
	@scripts/apt-install.sh wrk
	scripts/ensure-services.sh
	$(BIN)/python bench/load.py
