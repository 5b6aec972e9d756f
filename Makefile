# registerft: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 0.0.0.0
PORT ?= 8000

.PHONY: run test venv dev-venv migrate bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
dev-venv: $(VENV)/.installed-dev

migrate: venv
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput

## Start the portal on http://127.0.0.1:$(PORT) with the embedded demo issuer.
run: migrate
	@echo "registerft: open http://127.0.0.1:$(PORT)/ (on a phone in the same network: http://<this machine's address>:$(PORT)/)"
	@echo "registerft: the demo door (check-in) is at http://127.0.0.1:$(PORT)/door/; log in as a user made with"
	@echo "            'DJANGO_DEBUG=1 $(PY) manage.py createsuperuser' (docs/door.md)"
	DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

## Set up everything the tests need and run the whole suite.
test: dev-venv
	$(PY) -m pytest

## The benchmark (not part of `make test`): see docs/benchmark.md.
bench: dev-venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
