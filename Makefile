# pose3d: `make run` (whole pipeline on the embedded synthetic default) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python

export PATH := $(BIN):$(PATH)
# Prefect's settings are in prefect.toml, DVC's in .dvc/config.

.PHONY: install run test test-slow lint typecheck contracts bench ui serve clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install  ## the whole DVC pipeline (Prefect flows) on params.yaml
	dvc repro
	dvc metrics show

lint: install
	ruff check .
	ruff format --check .

typecheck: install
	mypy

contracts: install  ## import-linter: the layers of the house (pyproject.toml)
	lint-imports

test: lint typecheck contracts  ## ruff, mypy, import contracts and the tests (slow ones excluded)
	pytest -q

test-slow: install  ## the long checks (marker `slow`)
	pytest -q -m slow

bench: install  ## speed figures (the 2D ones need `make run`'s extract; real_images_2d its checkpoints)
	$(PY) bench/render_speed.py
	$(PY) bench/extract_speed.py
	$(PY) bench/conv_speed.py
	$(PY) bench/infer_speed.py
	$(PY) bench/real_images_2d.py

ui: install  ## a local Prefect server + UI on http://127.0.0.1:4200
	prefect server start

serve: install  ## deployments for starting runs from the UI (needs `make ui` running)
	PREFECT_API_URL=http://127.0.0.1:4200/api $(PY) -m flows.serve

clean:
	rm -rf .prefect .pytest_cache .mypy_cache .ruff_cache
