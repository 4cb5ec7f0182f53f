# vidgate — two commands for a newcomer: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 4000
DATA_DIR ?= .vidgate

.PHONY: serve test lint typecheck pytest install clean bench

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(VENV)/.installed

serve: install
	$(VENV)/bin/vidgate serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR) $(if $(CONFIG),--config $(CONFIG),)

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest -q -p no:cacheprovider

test: lint typecheck pytest

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .vidgate .mypy_cache .ruff_cache .pytest_cache
