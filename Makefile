# Developer entry points. `make run` starts the app; `make test` runs every tox env (what CI runs).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOX := $(BIN)/tox
# Debian packages the suite needs: a redis-server binary for private test servers, Chromium for the browser tests
# (skipped when CHROMIUM_PATH names a browser that is there, as on CI runners with their own Chrome).
SYSTEM_PACKAGES := redis-server chromium fonts-noto-color-emoji

.PHONY: venv run test system-deps lint type unit contract integration integration-stock e2e e2e-stock coverage mutation spec settings-doc soak client stop-redis clean distclean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint,bench]' 'tox>=4.20'
	touch $@

run: venv
	scripts/ensure_redis.sh
	$(BIN)/python src/start_dev.py

system-deps:
	@if ! command -v redis-server >/dev/null || ! test -x "$${CHROMIUM_PATH:-/usr/bin/chromium}"; then \
		sudo=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		echo "Installing $(SYSTEM_PACKAGES) with apt-get"; \
		$$sudo apt-get update -qq; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

# Coverage data starts afresh: the coverage env combines what this run's layers write.
test: venv system-deps
	rm -f .coverage .coverage.*
	$(TOX)

lint type unit contract integration integration-stock e2e e2e-stock: venv
	$(TOX) -e $@

# Branch coverage of the last unit, integration and e2e runs combined (incl. their subprocesses): fails under 95%.
coverage: venv
	$(TOX) -e coverage

# Mutation testing of src/ (mutmut, ~15 min): fails under 95% killed or on a survivor not explained in docs/mutation.md.
mutation: venv
	$(TOX) -e mutation

# docs/spec.md from the collected tests, opening with tests/spec_index.py's index of the promises of the README and docs/
# (fails while it names a test that is gone); tests/unit/repository/test_spec.py fails while docs/spec.md is
# stale.
spec: venv
	$(BIN)/python -m tests.spec

# docs/settings.md from the Settings class (src/settings.py): each field's default and description, under its heading;
# tests/unit/repository/test_settings_doc.py fails while docs/settings.md is stale.
settings-doc: venv
	$(BIN)/python -m scripts.settings_doc

# The integration and e2e layers N times in a row; lists every failure with its run number (make soak N=3).
N ?= 10
soak: venv system-deps
	$(BIN)/python scripts/soak.py --runs $(N)

# Regenerate the typed client (clients/background_jobs_client) from the app's AsyncAPI spec, after a protocol change.
client: venv
	$(BIN)/python -m clients.generate

stop-redis:
	@if test -f .run/redis.pid; then kill "$$(cat .run/redis.pid)" 2>/dev/null || true; rm -f .run/redis.pid; fi

clean: stop-redis
	rm -rf .run .tox .pytest_cache .mypy_cache .ruff_cache .hypothesis htmlcov artifacts mutants .coverage .coverage.* *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
