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

# Every benchmark in one run: prints one table, writes bench.json, rewrites README's table from it.
bench: $(STAMP)
	$(BIN)/python scripts/bench.py --out bench.json
	$(BIN)/python scripts/bench_report.py bench.json README.md

# Cached `az entracert token get` against `profile show` (<= 1.15x) and `az account
# get-access-token` (<= 0.6x), with 0 requests.
bench-tokens: $(STAMP)
	$(BIN)/python scripts/bench_tokens.py

clean:
	rm -rf $(VENV) build dist *.egg-info
