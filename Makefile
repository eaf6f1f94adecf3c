# depthlab: two commands on a fresh machine with Python 3.11
#   make demo   create .venv, install, run the default preset `quick`, write its figure
#   make test   install if needed, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_STORE ?= depthlab.sqlite

.PHONY: demo test install lint typecheck bench clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/depthlab run quick --store $(DEMO_STORE)
	$(BIN)/depthlab results --preset quick --store $(DEMO_STORE) --aggregate
	$(BIN)/depthlab plot --preset quick --store $(DEMO_STORE) -o quick.png
	$(BIN)/depthlab check quick --store $(DEMO_STORE) || true

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
