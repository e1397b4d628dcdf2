# The two commands a new machine needs: `make demo` and `make test`. Both bootstrap .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SYSTEM_STAMP := $(VENV)/.system-stamp

.PHONY: demo test lint typecheck unit bench system clean help

help:
	@echo "make demo   run the backend with the simulated PBX and embedded PostgreSQL"
	@echo "make test   lint, type-check and run the whole test suite"
	@echo "make lint | typecheck | bench | clean"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=70.1" wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Debian packages the pages' browser tests and the prompt synthesizer need.
$(SYSTEM_STAMP): scripts/bootstrap-system $(STAMP)
	scripts/bootstrap-system
	@touch $@

system: $(SYSTEM_STAMP)

demo: $(STAMP) $(SYSTEM_STAMP)
	$(BIN)/callcenter demo

lint: $(STAMP)
	$(BIN)/ruff check callcenter tests bench agi
	$(BIN)/ruff format --check callcenter tests bench agi

typecheck: $(STAMP)
	$(BIN)/mypy --strict callcenter

test: lint typecheck $(SYSTEM_STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var/test-pg
