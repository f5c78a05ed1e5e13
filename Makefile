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

# The PKCS#11 tests run on SoftHSM2: install it when missing (Debian/Ubuntu, as root); where it
# cannot be installed those tests skip, saying so.
test: $(STAMP)
	$(BIN)/ruff check .
	@command -v softhsm2-util >/dev/null || ! command -v apt-get >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2; } \
		>/dev/null 2>&1 || echo "SoftHSM2 could not be installed: the PKCS#11 tests will skip."
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
