PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --constraint constraints.txt
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench fonts clean

# One install step for everything (training, serving, tests), re-run when pyproject changes.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) -e ".[train,serve,plot,dev,fonts]"
	touch $(STAMP)

install: $(STAMP)

# The browser tests (tests/test_browser.py) drive Debian's chromium with its chromedriver:
# installed here where this runs as root with apt; elsewhere those tests are skipped.
BROWSER := $(VENV)/.browser
$(BROWSER): | $(STAMP)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			chromium chromium-driver >/dev/null) || echo "could not install chromium: the browser tests will be skipped"; \
	else echo "no chromium, and no root with apt to install it: the browser tests will be skipped"; fi
	@touch $@

demo: $(STAMP)
	$(PY) scripts/demo.py

test: $(STAMP) $(BROWSER)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

bench: $(STAMP)
	$(PIP) -e ".[train,serve,dev,bench]"
	$(PY) benchmarks/run_all.py

# More fonts for the broad synthetic style, from Debian's fonts-* packages (root and apt
# only; src/captcha_break/fonts.csv lists them with their licences). The general model was trained with them.
fonts: $(STAMP)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			$$($(PY) -c "from captcha_break.fonts import DEBIAN_PACKAGES; print(*DEBIAN_PACKAGES)"); \
	else echo "make fonts needs root and apt-get: install the fonts-* packages of src/captcha_break/fonts.csv by hand"; fi

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
