# wash-ops: `make demo` starts the embedded demo, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CATALOGUE := web/translations

.PHONY: demo test lint translations messages browser-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Compiled catalogues (.mo) are build output, made from the committed .po files.
translations: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d $(CATALOGUE) -D messages --statistics

# Re-extract the strings after changing user-facing text, then translate the new msgids in the .po files.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -o $(CATALOGUE)/messages.pot .
	$(BIN)/pybabel update -i $(CATALOGUE)/messages.pot -d $(CATALOGUE) -D messages --no-fuzzy-matching

# axe-core for the accessibility checks in the browser tests (Chromium itself comes from Debian).
browser-deps: node_modules/axe-core/axe.min.js
node_modules/axe-core/axe.min.js: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --silent --no-audit --no-fund; else echo "npm not found: browser tests will skip"; fi

demo: $(STAMP) translations
	$(BIN)/wash-ops demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) translations browser-deps lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache
	find $(CATALOGUE) -name '*.mo' -delete
