# pose3d: `make run` (whole pipeline on the embedded synthetic default) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python

export PATH := $(BIN):$(PATH)
# Prefect's settings are in prefect.toml, DVC's in .dvc/config.

.PHONY: install run plots test test-real test-slow lint typecheck contracts bench ui serve clean \
	share-keypoints lift-shared-keypoints test-browser

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-compile -e '.[dev]'
	@# byte-compile on every core (pip compiles on one): 57 s instead of 71 s on 2 cores
	$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" > /dev/null || true
	@touch $@

install: $(VENV)/.installed

UI_PORT ?= 4200

run: install  ## the whole DVC pipeline (Prefect flows) on params.yaml, one Prefect server for all
	@# nothing stale (dvc status -q exits 0): no server to start
	dvc status -q || $(PY) -m flows.server --port $(UI_PORT) -- dvc repro
	pose3d metrics

plots: install  ## dvc.yaml's curves, bars and Fig. 2 as one page that opens offline: dvc_plots/index.html
	pose3d plots

lint: install
	ruff check .
	ruff format --check .

typecheck: install
	mypy

contracts: install  ## import-linter: the layers of the house (pyproject.toml)
	lint-imports

test: lint  ## ruff; then mypy and the import contracts beside the tests (slow and real-data ones excluded)
	@# mypy and lint-imports take one core for about 25 s: they run while the tests run
	$(MAKE) --no-print-directory -j 3 typecheck contracts test-fast

test-fast: install  ## the tests alone (slow and real-data ones excluded)
	pytest -q -n 2 --dist worksteal

test-real: install  ## the tests on ../shared/data (marker `real_data`; they skip where it is absent)
	pytest -q -n 2 --dist worksteal -m real_data

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
test-browser: install  ## the report and the plots page in headless Chromium (installs Debian's chromium where missing)
	command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }
	pytest -q -m browser

test-slow: install  ## the long checks (marker `slow`)
	pytest -q -n 2 --dist worksteal -m slow

bench: install  ## speed figures (the 2D ones need `make run`'s extract; real_images_2d its checkpoints)
	$(PY) bench/render_speed.py
	$(PY) bench/extract_speed.py
	$(PY) bench/conv_speed.py
	$(PY) bench/infer_speed.py
	$(PY) bench/real_images_2d.py

ui: install  ## a Prefect server + UI on http://127.0.0.1:4200, serving the pipeline deployment
	$(PY) -m flows.server --port $(UI_PORT) -- $(PY) -m flows.serve

serve: install  ## the deployment alone, to a server already running (PREFECT_API_URL)
	PREFECT_API_URL=$${PREFECT_API_URL:-http://127.0.0.1:$(UI_PORT)/api} $(PY) -m flows.serve

# Sharing 2D keypoints (docs/sharing.md): the keypoint caches and the 2D networks go to the DVC
# remote `shared` (.dvc/config; DVC_REMOTE=folder-or-URL points it elsewhere, for this clone);
# a colleague's clone pulls them and trains the lifter with no 2D stage run.
share-keypoints: install  ## push the keypoint caches and 2D networks of the last run (DVC_REMOTE=URL)
	$(PY) -m flows.share push $(if $(DVC_REMOTE),--remote '$(DVC_REMOTE)')

lift-shared-keypoints: install  ## pull them (DVC_REMOTE=the sender's), then the labels and the lifter stages only
	$(PY) -m flows.share pull --port $(UI_PORT) $(if $(DVC_REMOTE),--remote '$(DVC_REMOTE)')
	pose3d metrics

clean:
	rm -rf .prefect .pytest_cache .mypy_cache .ruff_cache
