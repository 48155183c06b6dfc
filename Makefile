# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv with the project and its dev dependencies on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EVENT ?= examples/events/epic_created_direct.json

.PHONY: setup demo test build clean

$(BIN)/clinisight-trace: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/clinisight-trace

demo: setup
	$(BIN)/clinisight-trace invoke orchestrator $(EVENT) --out out/demo

test: setup
	$(BIN)/ruff check telemetry handlers tests bench
	$(BIN)/python -m pytest

build: setup
	$(BIN)/clinisight-trace build

clean:
	rm -rf $(VENV) .venv-bench out dist .pytest_cache
