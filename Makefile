# The two commands of the README: `make demo` and `make test`. Each sets itself up:
# a virtual environment in .venv with the pinned versions of constraints.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit browser screenshots bench proof clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/personsync demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The web console's tests drive Debian's Chromium through Playwright (never a downloaded browser):
# installed with apt-get when missing.
browser:
	test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

unit: $(STAMP) browser
	$(BIN)/pytest -n 2 -q

test: lint typecheck unit

# The web console's pages at 1280 and 390 px, into docs/screenshots/ (the README shows them).
screenshots: $(STAMP) browser
	$(BIN)/pytest -q tests/web/test_browser.py --screenshots docs/screenshots

# Every benchmark in turn (about half an hour here; see docs/benchmarks.md for each one alone).
bench: $(STAMP)
	for b in persons_bench vcard_bench csv_bench sync_bench graph_bench; do \
		$(BIN)/python -m bench.$$b || exit 1; done

# The engine's state machine with a long profile (CI runs a few short examples of it): every
# store on SQLite and PostgreSQL, runs killed at random points. EXAMPLES and STEPS per pair.
EXAMPLES ?= 100
STEPS    ?= 25
proof: $(STAMP)
	$(BIN)/python -m bench.state_machine_long $(EXAMPLES) $(STEPS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
