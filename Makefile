# The two commands a newcomer needs:  make run   and   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint migrate benchmark emulator

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Web, worker and beat together on the embedded default: SQLite, file-system broker, paper
# accounts, simulated market. Seeds the demo on an empty database and prints the login.
run: migrate
	@$(BIN)/python manage.py seed_demo
	@$(BIN)/python manage.py collectstatic --noinput -v0
	@echo ""
	@echo "  Trading system: http://$(HOST):$(PORT)/   (admin: http://$(HOST):$(PORT)/admin/)"
	@echo "  Start trading:  $(BIN)/python manage.py trading start   (or the Start button)"
	@echo ""
	HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho start -f Procfile

# The tests run against the real services: PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
# First the import direction (import-linter, contracts in .importlinter) and ruff: both take seconds.
test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

benchmark: migrate
	$(BIN)/python manage.py benchmark_fanout
