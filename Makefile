# The two commands for a fresh machine (Python 3.11+):
#   make run    set everything up and run the studio at http://127.0.0.1:8000/
#   make test   run the tests (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set, else SQLite + embedded Redis)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup setup-dev lint bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

setup: $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) manage.py migrate --noinput

setup-dev: $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt

run: setup
	$(PY) manage.py ensureadmin
	$(PY) manage.py runstudio

test: setup-dev
	$(PY) -m pytest -q

lint: setup-dev
	$(VENV)/bin/ruff check .

bench: setup-dev
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bench
