# The two commands: `make run` (the app with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench bench-categorizer bench-widget bench-ingest bench-datagen bench-refresh bench-memory bench-pages bench-recompute bench-partitions

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-1} $(PY) manage.py rundemo

test: $(VENV)/.dev
	$(PY) -m pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# The benchmarks (docs/PERFORMANCE.md: method and figures; docs/CAPACITY.md: what they mean at
# the brief's scale). All but the categorizer's need PostgreSQL and Redis on 127.0.0.1 (as CI
# starts them); the widget's and the pages' also wrk and Node.js. `make bench QUICK=1` runs each
# at its CI smoke size. `make bench-datagen` (not part of `bench`: at its default size it loads
# 10 M transactions; DATAGEN_ARGS="--users 5000 --transactions 500000" for less) fills
# mint_bench_data with synthetic users for recompute and partitions.
QUICK_ARGS := $(if $(QUICK),--quick,)
bench: bench-categorizer bench-widget bench-ingest bench-refresh bench-memory bench-pages bench-recompute bench-partitions

bench-categorizer: $(VENV)/.dev
	$(PY) bench/categorizer.py $(if $(QUICK),--lines 100000,)

bench-widget: $(VENV)/.dev
	$(PY) bench/widget.py $(if $(QUICK),--users 2000 --warm-users 1000 --duration 2 --runs 1 --rates 500,)

bench-ingest: $(VENV)/.dev
	$(PY) bench/ingest.py $(QUICK_ARGS)

bench-datagen: $(VENV)/.dev
	$(PY) bench/datagen.py $(DATAGEN_ARGS)

bench-refresh: $(VENV)/.dev
	$(PY) bench/refresh.py $(QUICK_ARGS)

bench-memory: $(VENV)/.dev
	$(PY) bench/memory.py $(QUICK_ARGS)

bench-pages: $(VENV)/.dev
	$(PY) bench/pages.py $(QUICK_ARGS)

bench-recompute: $(VENV)/.dev
	$(PY) bench/recompute.py $(QUICK_ARGS)

bench-partitions: $(VENV)/.dev
	$(PY) bench/partitions.py $(QUICK_ARGS)
