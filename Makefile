# The README's commands. `make demo` and `make test` work from a fresh clone: they build the
# virtual environment first (torch pinned to the CPU build before anything that depends on it).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps demo check-default test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/notecheck demo

# The trained default model's pinned verdicts (tests/default_model): run after `make demo`.
check-default: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/default_model --model-dir runs/default

# The browser and database tests need Debian's chromium, a PostgreSQL server and a CJK font: installed here
# when missing (as root; otherwise the command to run is printed). Nothing downloads a browser.
SYSTEM_PACKAGES := chromium postgresql fonts-noto-cjk

system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -d /usr/share/fonts/opentype/noto ] || missing="$$missing fonts-noto-cjk"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else \
		echo "missing system packages:$$missing (sudo apt-get install$$missing)"; \
	fi

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

# mypy resolves `notecheck.model` through a tree of links that mirrors the installed layout (the editable
# install maps the owner's top-level folders with an import hook mypy cannot follow).
TYPES := build/typecheck

lint: $(STAMP)
	$(BIN)/ruff check model training serving notecheck tests benchmarks
	$(BIN)/ruff format --check model training serving notecheck tests benchmarks
	rm -rf $(TYPES) && mkdir -p $(TYPES)/notecheck
	for f in notecheck/*.py notecheck/commands; do ln -s "$$PWD/$$f" $(TYPES)/notecheck/; done
	for d in model training serving; do ln -s "$$PWD/$$d" $(TYPES)/notecheck/$$d; done
	MYPYPATH=$(TYPES) $(BIN)/mypy --strict -p notecheck.model
	MYPYPATH=$(TYPES) $(BIN)/mypy -p notecheck

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
