# Everything runs from a project virtual environment that these targets create and reuse.
# `make demo` is the main job; `make test` is the whole suite (.ci/run calls it).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test bench bench-tokens clean

venv: $(STAMP)

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

bench: $(STAMP)
	$(BIN)/python scripts/bench_emulator.py

# Cached `az entracert token get` against `az account get-access-token` (goal: <= 0.9x, 0 requests).
bench-tokens: $(STAMP)
	$(BIN)/python scripts/bench_tokens.py

clean:
	rm -rf $(VENV) build dist *.egg-info
