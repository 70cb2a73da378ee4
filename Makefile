# The two commands a newcomer runs: `make demo` and `make test`. Each builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench fresh-store clean

$(BIN)/cases: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	@touch $@

# torch is pinned and installed first: these machines keep a CPU build of torch 2.13.0 on disk,
# while an unpinned torch (pulled in by sentence-transformers) would be a multi-GB CUDA build.
$(VENV)/.dev-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,embeddings,demo]'
	@touch $(BIN)/cases $@

demo: $(BIN)/cases
	$(BIN)/cases demo

test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --cov --cov-report=term

bench: $(VENV)/.dev-installed
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# After adding a migration: the schema a new store is created with, without sqlite-utils.
fresh-store: $(VENV)/.dev-installed
	$(BIN)/python -c 'from casebank.store._sqlite._fresh import write_fresh_sql; write_fresh_sql()'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
