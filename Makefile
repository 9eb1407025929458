# Concord: `make demo` runs it, `make test` tests it. Needs only Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The install stamp names the pyproject.toml it was made from, so changed dependencies reinstall.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

# The demo's random secrets, generated once (config/demo_env.py) and loaded into every command
# and process `make demo` starts; production sets DJANGO_SECRET_KEY and CONCORD_ENCRYPTION_KEYS.
DEMO_ENV := var/demo.env
WITH_DEMO_ENV := set -a && . ./$(DEMO_ENV) && set +a &&

.PHONY: venv demo test bench lint migrate clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

migrate: venv
	$(BIN)/python manage.py migrate --noinput

$(DEMO_ENV): | venv
	$(BIN)/python -m config.demo_env $@

# Ports: CONCORD_PORT (web, 8000), CONCORD_SALESFORCE_PORT (8443), CONCORD_GOOGLE_PORT (8444).
demo: venv $(DEMO_ENV)
	$(WITH_DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(WITH_DEMO_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
# The admin login first: the demo's owners include it (seed_demo links it).
	$(WITH_DEMO_ENV) $(BIN)/python manage.py ensure_demo_admin
	$(WITH_DEMO_ENV) $(BIN)/python manage.py seed_demo
	$(WITH_DEMO_ENV) $(BIN)/python manage.py ensure_demo_digests
	@echo
	@echo "  Concord admin:  http://127.0.0.1:$${CONCORD_PORT:-8000}/admin/   login: admin / admin"
	@echo "  REST API docs:  http://127.0.0.1:$${CONCORD_PORT:-8000}/api/docs/"
	@echo "  (web, Celery worker and beat start below; a \"Concord is ready\" line follows the"
	@echo "  first syncs; Ctrl-C stops them all)"
	@echo
	@# exec: Ctrl-C reaches config.demo_run, which stops honcho and exits 0 (no "Error 130").
	@$(WITH_DEMO_ENV) export PATH="$(CURDIR)/$(BIN):$$PATH" \
	  CONCORD_BASE_URL="$${CONCORD_BASE_URL:-http://127.0.0.1:$${CONCORD_PORT:-8000}}" && \
	  exec $(BIN)/python -m config.demo_run

# The suite runs in TEST_PROCESSES parallel pytest processes (pytest-xdist), each with its own
# test database, sandboxes and worker queues; most tests wait on a server, a worker or a
# browser, so more processes than cores pay. `TEST_PROCESSES=0` runs it in this process.
TEST_PROCESSES ?= 3
test: venv
	$(BIN)/pytest -n $(TEST_PROCESSES) --durations=15

bench: venv
	$(BIN)/python tests/perf/run.py

# The linters serve nothing, so they run in development mode (no secrets needed).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

clean:
	rm -rf $(VENV) var
