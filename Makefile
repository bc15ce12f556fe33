# Two commands do all set-up on a bare machine, and both are idempotent:
#   make demo   set up, then the nightly pipeline on the demo shop (smoke → simulate → train → rollout →
#               report); the report lands in reports/latest/index.html
#   make test   set up, then run the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.uiab-installed
# The CPU build; a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test setup browser lint clean

demo: setup
	$(VENV)/bin/uiab nightly site_fixtures/shop/experiment.toml --out reports --db reports/uiab.db
	@echo "open reports/latest/index.html"

test: setup
	$(VENV)/bin/pytest

setup: $(STAMP) browser

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[agent,dev]'
	touch $(STAMP)

# UIAB_BROWSER_EXECUTABLE, else a Chromium on PATH, else Playwright's download, else apt (as root).
browser: $(STAMP)
	$(PY) -m harness.browser.setup

# ruff over everything; mypy and pyright (basic) over the three packages, as configured in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check harness agent personas tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/pyright

clean:
	rm -rf $(VENV) uiab.db uiab.db-wal uiab.db-shm uiab-reports reports test-results .pytest_cache
