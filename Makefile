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

demo: venv $(DEMO_ENV)
	$(WITH_DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(WITH_DEMO_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(WITH_DEMO_ENV) $(BIN)/python manage.py seed_demo
	$(WITH_DEMO_ENV) $(BIN)/python manage.py ensure_demo_admin
	@echo
	@echo "  Concord admin:  http://127.0.0.1:$${CONCORD_PORT:-8000}/admin/   login: admin / admin"
	@echo "  REST API docs:  http://127.0.0.1:$${CONCORD_PORT:-8000}/api/docs/"
	@echo "  (web, Celery worker and beat start below; Ctrl-C stops them all)"
	@echo
	$(WITH_DEMO_ENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile

test: venv
	$(BIN)/pytest

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
