# Each target creates .venv if missing and installs descend with its dev extras first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
BROWSER := $(VENV)/.browser-stamp

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The browser tests drive Debian's Chromium through playwright (its own browser download does
# not work here). Installed once per machine; the tests fail loudly if it is missing.
$(BROWSER):
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v chromium >/dev/null 2>&1 && touch $@

demo: $(STAMP)
	$(VENV)/bin/descend demo

test: $(STAMP) $(BROWSER)
	$(PY) -m pytest -n 2 -q

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) descend-out .pytest_cache .hypothesis
