# `make test` and `make demo` set up a local virtualenv (.venv) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/siamesekit demo --out demo_output

lint: $(STAMP)
	$(BIN)/ruff check siamesekit tests examples benchmarks
	$(BIN)/ruff format --check siamesekit tests examples benchmarks

clean:
	rm -rf $(VENV) demo_output
