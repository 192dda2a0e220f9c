# `make test` and `make demo` set up a local virtualenv (.venv) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BACKENDS := tensorflow jax torch

.PHONY: test $(addprefix test-,$(BACKENDS)) demo lint clean

# torch==2.13.0 is PyTorch's CPU build (the newest releases on PyPI are the
# CUDA build, several GB); any torch >= 2.1 works.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,jax]" "torch==2.13.0"
	touch $(STAMP)

# The whole suite once per Keras backend.
test: $(addprefix test-,$(BACKENDS))

$(addprefix test-,$(BACKENDS)): test-%: $(STAMP)
	KERAS_BACKEND=$* $(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/siamesekit demo --out demo_output

lint: $(STAMP)
	$(BIN)/ruff check siamesekit tests examples benchmarks
	$(BIN)/ruff format --check siamesekit tests examples benchmarks

clean:
	rm -rf $(VENV) demo_output
