# depthlab: two commands on a fresh machine with Python 3.11
#   make demo   create .venv, install, run the default preset `quick`, write its figure
#   make test   install if needed (with the dev tools), run ruff, mypy and the test suite
#   make browser  install headless Chromium (Debian package) so the report's rendering test runs
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DEMO_STORE ?= depthlab.sqlite

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install install-dev lint typecheck bench browser clean

# Two stamps: what the demo needs (depthlab and its dependencies), and the dev tools on top for `make test`
# (pytest, hypothesis, ruff, mypy, dask, pandas), which the demo does not install.
$(STAMP): pyproject.toml requirements.lock
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/depthlab run quick --store $(DEMO_STORE)
	$(BIN)/depthlab results --preset quick --store $(DEMO_STORE) --aggregate
	$(BIN)/depthlab plot --preset quick --store $(DEMO_STORE) -o quick.png
	$(BIN)/depthlab check quick --store $(DEMO_STORE) || true
	$(BIN)/depthlab report quick --store $(DEMO_STORE) -o report

test: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

# Chromium for tests/test_report.py's screenshot test (skipped without a browser); Debian's package, since
# browser builds fetched by other installers are not reachable from every machine.
browser:
	@for b in chromium chromium-browser google-chrome chromium-headless-shell; do \
		command -v $$b >/dev/null 2>&1 && { echo "found $$b"; exit 0; }; done; \
	$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium fonts-dejavu-core

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
