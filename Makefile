# `make test` and `make demo` set up a local virtualenv (.venv) on first use.
# `make clean` removes what the targets wrote and keeps .venv; `make distclean`
# removes .venv too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BACKENDS := tensorflow jax torch

.PHONY: test $(addprefix test-,$(BACKENDS)) demo lint clean distclean

# torch==2.13.0 is PyTorch's CPU build (the newest releases on PyPI are the
# CUDA build, several GB); any torch >= 2.1 works.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,jax,bench]" "torch==2.13.0"
	touch $(STAMP)

# The whole suite once per Keras backend, in two processes (pytest-xdist):
# one test file at a time each, so that a file's fixtures are built once.
test: $(addprefix test-,$(BACKENDS))

$(addprefix test-,$(BACKENDS)): test-%: $(STAMP)
	KERAS_BACKEND=$* $(BIN)/python -m pytest -n 2 --dist loadfile

# Runs again as often as you like: --overwrite replaces the demo's own files
# in demo_output (model.keras and the PNGs) and nothing else there.
demo: $(STAMP)
	$(BIN)/siamesekit demo --out demo_output --overwrite

lint: $(STAMP)
	$(BIN)/ruff check siamesekit tests examples benchmarks
	$(BIN)/ruff format --check siamesekit tests examples benchmarks

clean:
	rm -rf demo_output .pytest_cache .ruff_cache build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
