# The two commands: `make test` and `make demo`. Both set everything up on a
# fresh Debian 12 machine first (system packages, .venv/, the project itself).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready

# The web tests drive Debian's chromium: Playwright never downloads a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: help test demo bench screenshots lint typecheck unit system-deps venv clean

help:
	@echo "make test    lint, type-check and run every test"
	@echo "make demo    run the system on simulated hardware"
	@echo "make bench   run the benchmarks in bench/ (never part of make test)"
	@echo "make screenshots  save every screen under docs/screenshots/ (on a private Xvfb)"
	@echo "make clean   remove .venv/, caches and the compiled screening module"

system-deps:
	@scripts/system-deps.sh

$(READY): setup.cfg setup.py pyproject.toml central/_screening_core.pyx | system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

venv: system-deps $(READY)

lint: venv
	$(PY) -m ruff check .

typecheck: venv
	$(PY) -m mypy

unit: venv
	$(PY) -m pytest

test: lint typecheck unit

demo: venv
	$(VENV)/bin/sallyport demo

bench: venv
	$(PY) bench/run.py

screenshots: venv
	$(PY) -m simulators.display $(PY) -m tests.tablet.ui_driver --out docs/screenshots/tablet
	$(VENV)/bin/sallyport demo --walkthrough --out docs/screenshots/kiosk
	$(PY) scripts/web_screenshots.py --out docs/screenshots/web

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis build
	rm -f central/_screening_core.c central/_screening_core.*.so
