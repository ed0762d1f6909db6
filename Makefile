# The two commands: `make serve` (run the app) and `make test` (run the tests). Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt
# make serve installs what the app needs; make test adds the test and lint tools (separate stamps).
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: serve test test-fast lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(PIP) -e '.[test]'
	touch $(TEST_STAMP)

serve: $(STAMP)
	$(BIN)/onboarding serve $(ARGS)

test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(ARGS)

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check onboarding tests bench
	$(BIN)/ruff format --check onboarding tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(TEST_STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -r bench/requirements.txt
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV)
