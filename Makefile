# Tessera: `make run` serves the console on http://localhost:8000, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install system-deps migrate messages clean


$(STAMP): requirements/base.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py serve

test: $(STAMP) system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# Debian packages the suite drives for real: Redis, and Chromium for Playwright.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "The tests need Debian packages:$$missing. Install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

migrate: $(STAMP)
	$(PY) manage.py migrate_schemas

# Re-extract and compile the translation catalogs (needs GNU gettext).
messages: $(STAMP)
	$(PY) manage.py makemessages -l zh_Hans -l ja --ignore=.venv --ignore=var
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var
