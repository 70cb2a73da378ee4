# The two commands a newcomer runs: `make demo` and `make test`. Each builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench fresh-store mutants clean postgres-server chromium screenshots

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

# The tests start a throwaway PostgreSQL with the machine's initdb and pg_ctl (tests/postgres_server.py):
# install the server package when it is missing (as root, or through sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
postgres-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing PostgreSQL for the tests: apt-get install -y postgresql"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

# The browser tests (tests/browser) drive Debian's Chromium through Playwright's executable_path:
# Playwright's own browser download cannot run on these machines. Install the package when missing.
# (`--dist loadgroup` below keeps them, marked xdist_group("browser"), on one worker: one browser.)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Chromium for the browser tests: apt-get install -y chromium"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: $(VENV)/.dev-installed postgres-server chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup --cov --cov-report=term

bench: $(VENV)/.dev-installed
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The README's pictures of the pages (docs/screenshots/), taken by the browser tests themselves.
screenshots: $(VENV)/.dev-installed chromium
	CASEBANK_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/browser -q

# After adding a migration: the schema a new store is created with, without sqlite-utils.
fresh-store: $(VENV)/.dev-installed
	$(BIN)/python -c 'from casebank.store._sqlite._fresh import write_fresh_sql; write_fresh_sql()'

# Mutation testing, never part of `make test` (minutes of CPU; benchmarks/README.md says how to
# read and widen it). setup.cfg's [mutmut] section names the files mutated and the tests run. It
# runs in a copy outside the work tree, so that mutmut's generated mutants/ folder is neither
# linted nor committed; `mutmut show NAME`, run in $(MUTANTS_DIR), shows one mutant.
MUTMUT_VERSION := 3.8.1
MUTANTS_DIR ?= $(or $(TMPDIR),/tmp)/casebank-mutants-$(notdir $(CURDIR))
MUTANTS_JOBS ?= 2

mutants: $(VENV)/.dev-installed
	$(BIN)/python -m pip install --quiet 'mutmut==$(MUTMUT_VERSION)'
	rm -rf '$(MUTANTS_DIR)' && mkdir -p '$(MUTANTS_DIR)'
	cp -R casebank tests setup.cfg pyproject.toml '$(MUTANTS_DIR)/'
	find '$(MUTANTS_DIR)' -name __pycache__ -prune -exec rm -rf {} +
	cd '$(MUTANTS_DIR)' && nice -n 19 '$(CURDIR)/$(BIN)/mutmut' run --max-children $(MUTANTS_JOBS) > run.log 2>&1 \
		|| { tail -c 3000 run.log; exit 1; }
	@echo "mutants per module (survived and no tests count as surviving; a timeout is a kill):"
	@cd '$(MUTANTS_DIR)' && '$(CURDIR)/$(BIN)/mutmut' results --all true | awk -F': ' ' \
		{ m = $$1; sub(/^ +/, "", m); sub(/\.[^.]*$$/, "", m); n[m]++; c[m, $$2]++ } \
		END { for (m in n) printf "%s: %d mutants, %d killed, %d survived, %d no tests, %d timeout - %.1f%% survive\n", \
			m, n[m], c[m, "killed"], c[m, "survived"], c[m, "no tests"], c[m, "timeout"], \
			100 * (c[m, "survived"] + c[m, "no tests"]) / n[m] }' | sort
	@cd '$(MUTANTS_DIR)' && '$(CURDIR)/$(BIN)/mutmut' results

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
