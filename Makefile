# The two commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-ingest bench-sla bench-pages demo migrate clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

migrate: $(STAMP)
	mkdir -p var/broker/queue var/broker/processed var/broker/control
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo_data

run: demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo_accounts
	$(VENV)/bin/honcho -f Procfile start

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: bench-ingest bench-sla bench-pages

bench-ingest: $(STAMP)
	$(PY) bench/ingest.py

bench-sla: $(STAMP)
	$(PY) bench/sla_sweep.py

bench-pages: $(STAMP)
	$(PY) bench/pages.py

clean:
	rm -rf var/broker var/staticfiles
