# vidgate — two commands for a newcomer: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 4000
DATA_DIR ?= .vidgate

.PHONY: serve test lint typecheck pytest install install-test clean bench bench-mixed bench-peers

$(PY):
	$(PYTHON) -m venv $(VENV)

# Serving needs the package and its own dependencies only (about 260 MB).
$(VENV)/.installed-serve: pyproject.toml | $(PY)
	@echo "installing vidgate into $(VENV) (what serving needs; about 40 s the first time)..."
	$(PIP) --progress-bar on -e .
	@touch $@

# The tests need the test tools too (.[test]: about 1.6 GB, several minutes the first time).
$(VENV)/.installed-test: pyproject.toml | $(PY)
	@echo "installing vidgate with its test tools into $(VENV) (.[test]: about 1.6 GB, several minutes the first time)..."
	$(PIP) --progress-bar on -e '.[test]'
	@touch $@ $(VENV)/.installed-serve

install: $(VENV)/.installed-serve

install-test: $(VENV)/.installed-test

serve: install
	$(VENV)/bin/vidgate serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR) $(if $(CONFIG),--config $(CONFIG),)

lint: install-test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install-test
	$(VENV)/bin/mypy

pytest: install-test
	@echo "note: the tests install PostgreSQL, Redis and Chromium with apt-get the first time they need them (as root on Debian) and start them on 127.0.0.1 only"
	$(PY) -m pytest -q -p no:cacheprovider

test: lint typecheck pytest

bench: install-test
	$(PY) bench/run.py

# The sustained mixed workload vs the simulator alone and LiteLLM (bench/README.md); makes
# LiteLLM's own venv in bench/.peers on first use. BENCH_ARGS=--quick for a short run.
bench-mixed: install-test
	$(PY) bench/mixed.py $(BENCH_ARGS)

bench-peers: install-test
	$(PY) bench/peers.py

clean:
	rm -rf $(VENV) .vidgate .mypy_cache .ruff_cache .pytest_cache
