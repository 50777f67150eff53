# Every target creates and uses the project's virtual environment by itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: install demo up test lint format bench wrk clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -U pip setuptools wheel
	$(PY) -m pip install -q --disable-pip-version-check -e '.[worker,dev]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

## Run a real analysis end to end on the embedded stack (SQLite, Redis, S3, gateway, workers).
demo: install
	$(VENV)/bin/agensium demo

## Start the local stack (gateway, a worker pool per tool, beat, Flower) until Ctrl-C.
up: install
	$(VENV)/bin/agensium stack up --flower

## The whole test suite (PostgreSQL and SQLite, Redis, SeaweedFS, real workers).
test: install
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Benchmarks: ratios against baselines measured in the same run.
YDATA_VENV := var/bench/ydata-venv

$(YDATA_VENV)/bin/python:
	$(PYTHON) -m venv $(YDATA_VENV)
	$(YDATA_VENV)/bin/pip install -q --disable-pip-version-check ydata-profiling

## The HTTP load generator: compiled, from Debian (wrk), pinned to one core by the benches.
WRK := $(shell command -v wrk 2>/dev/null)

wrk:
ifeq ($(WRK),)
	@command -v apt-get >/dev/null || { echo "make bench needs wrk (apt-get install wrk)"; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q wrk
endif

## BENCH=latency (or gateway, tracing, profile, outofcore, clean, master, scaling; several with spaces)
## runs only those parts.
bench: install wrk $(YDATA_VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -e '.[worker,dev,bench]'
	$(PY) -m bench $(BENCH)

clean:
	rm -rf var .mypy_cache .ruff_cache
