# Developer entry points. `make run` starts the app; `make test` runs every tox env (what CI runs).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOX := $(BIN)/tox
# Debian packages the suite needs: a redis-server binary for private test servers, Chromium for the browser tests.
SYSTEM_PACKAGES := redis-server chromium fonts-noto-color-emoji

.PHONY: venv run test system-deps lint type unit integration e2e client stop-redis clean distclean

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
	@if ! command -v redis-server >/dev/null || ! test -x /usr/bin/chromium; then \
		sudo=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		echo "Installing $(SYSTEM_PACKAGES) with apt-get"; \
		$$sudo apt-get update -qq; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

test: venv system-deps
	$(TOX)

lint type unit integration e2e: venv
	$(TOX) -e $@

# Regenerate the typed client (clients/background_jobs_client) from the app's AsyncAPI spec, after a protocol change.
client: venv
	$(BIN)/python -m clients.generate

stop-redis:
	@if test -f .run/redis.pid; then kill "$$(cat .run/redis.pid)" 2>/dev/null || true; rm -f .run/redis.pid; fi

clean: stop-redis
	rm -rf .run .tox .pytest_cache .mypy_cache .ruff_cache .hypothesis htmlcov artifacts .coverage .coverage.* *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
