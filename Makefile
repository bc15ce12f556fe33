# Two commands do all set-up on a bare machine, and both are idempotent:
#   make demo   set up, then smoke-walk both demo sites and print a per-page table
#   make test   set up, then run the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.uiab-installed
# The CPU build; a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test setup browser lint clean

demo: setup
	$(VENV)/bin/uiab smoke site_fixtures/shop/experiment.toml
	$(VENV)/bin/uiab smoke site_fixtures/saas/experiment.toml

test: setup
	$(VENV)/bin/pytest

setup: $(STAMP) browser

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# UIAB_BROWSER_EXECUTABLE, else a Chromium on PATH, else Playwright's download, else apt (as root).
browser: $(STAMP)
	$(PY) -m harness.setup_browser

lint: $(STAMP)
	$(VENV)/bin/ruff check harness agent personas tests benchmarks

clean:
	rm -rf $(VENV) uiab.db uiab.db-wal uiab.db-shm uiab-reports .pytest_cache
