# The two commands a newcomer needs (README):  make compare   and   make test
# Both create the virtual environment .venv (pinned by constraints.txt) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KERAS_BACKEND ?= torch

.PHONY: compare test lint bench clean system-deps

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

## The main job: compare schedules by real training on the bundled data, ending in a report.
compare: $(STAMP)
	$(BIN)/schedlab compare --config examples/quick.yaml

## System packages the tests drive for real: headless Chromium renders the HTML report; the
## King James Bible (bible-kjv-text: the text, bible-kjv: the `bible` program that reads it) is the
## offline corpus of examples/tiny_gpt_kjv.py.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@{ command -v bible >/dev/null 2>&1 && test -f /usr/lib/bible.data; } || { apt-get update -qq && apt-get install -y -qq bible-kjv bible-kjv-text >/dev/null; }

## The whole test suite (reference comparisons against the real libraries included).
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

## Benchmarks: each prints ratios against its peer measured in the same run (see BENCHMARKS.md).
bench: $(STAMP)
	$(BIN)/python benchmarks/curve.py
	$(BIN)/python benchmarks/step_overhead.py
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/linear_backward.py
	$(BIN)/python benchmarks/ray_overhead.py
	$(BIN)/python benchmarks/user_model.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
