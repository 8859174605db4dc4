# Two commands for a fresh Debian machine with only python3: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHROMIUM := /usr/bin/chromium
# The demo and the tests run in debug mode; production sets DEBUG=0 and SECRET_KEY itself.
export DEBUG ?= 1

.PHONY: run test install install-dev clean

# Debian's python3 lacks venv/ensurepip until python3-venv is installed.
$(PY):
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Browser tests drive Debian's Chromium; Playwright's own browser download is not used.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev $(CHROMIUM)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo --base-url http://$(HOST):$(PORT)
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

# Two workers: browser and server tests spend much of their time waiting, so even two cores
# run two of them at once (each worker has its own test database and channel-layer prefix).
TEST_WORKERS ?= 2

test: install-dev
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS)

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles .pytest_cache .hypothesis
