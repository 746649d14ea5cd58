# Two commands for a new clone: `make run` (the bot, on http://127.0.0.1:8000) and `make test`.
# Everything runs from the project's own virtualenv in .venv; nothing is installed globally.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run chat test lint check bench bench-load eval lock clean chromium graphviz

run: $(VENV)/.installed
	$(BIN)/intake dev

chat: $(VENV)/.installed
	$(BIN)/intake chat

test: lint chromium graphviz
	$(BIN)/python -m pytest

# The browser tests drive Debian's chromium (never `playwright install`); they skip without it.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "/usr/bin/chromium is missing, so the browser tests will be skipped."; \
		echo "Install it as root: apt-get update && apt-get install -y chromium"; \
	fi

# `intake flows graph --format svg` runs Graphviz's dot; its test skips without it.
graphviz:
	@if command -v dot >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's graphviz for the flow diagram test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz; \
	else \
		echo "Graphviz's dot is missing, so the SVG flow diagram test will be skipped."; \
		echo "Install it as root: apt-get update && apt-get install -y graphviz"; \
	fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy --follow-imports=silent intake/flow

check: $(VENV)/.installed
	$(BIN)/intake flows check

# How well the language layer reads the labelled corpus (tests/language), per language.
eval: $(VENV)/.installed
	$(BIN)/python -m tests.language.evaluate

# Webhook latency as ratios against a baseline measured in the same run.
bench: $(VENV)/.installed
	$(BIN)/python bench/webhook_latency.py
	$(BIN)/python bench/cpu_per_request.py
	$(BIN)/python bench/language_cost.py

# The webhooks under load: the Procfile's web and worker against a private Redis, beside a bare
# Flask floor and a naive handler on the same gunicorn flags (docs/performance.md). Needs node;
# autocannon comes from bench/package-lock.json.
bench-load: $(VENV)/.installed-dev bench/node_modules/.package-lock.json
	$(BIN)/python bench/load.py $(BENCH_ARGS)

bench/node_modules/.package-lock.json: bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund

# Installs come from the hashed lock files in requirements/, then the project itself without
# dependencies. The stamps make re-runs fast; a changed lock file or pyproject.toml reinstalls.
$(VENV)/.installed: requirements/run.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed: run make PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/run.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	touch $@

# Regenerate the locks from pyproject.toml after changing a dependency there; commit the result.
# The dev lock is constrained by the run lock, so the packages they share have the same versions.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

lock: $(VENV)/.installed-dev
	$(PIP_COMPILE) --output-file requirements/run.txt pyproject.toml
	$(PIP_COMPILE) --extra dev --constraint requirements/run.txt \
		--output-file requirements/dev.txt pyproject.toml

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
