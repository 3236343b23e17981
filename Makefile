# The two commands: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-$(shell cat requirements-dev.txt pyproject.toml 2>/dev/null | sha256sum | cut -c1-12)

.PHONY: install browser demo test lint unit lock schema bench-quick clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed; installing Debian's python3-venv"; \
	  command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }

$(STAMP): $(BIN)/python requirements-dev.txt pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . || $(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.stamp-*
	touch $@

install: $(STAMP)

# The console's tests drive Debian's Chromium headless (with a Chinese font, so their screenshots can be read);
# install both when we may.
browser:
	@{ command -v chromium >/dev/null && fc-list :lang=zh 2>/dev/null | grep -q .; } || { \
	  command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  { echo "installing Debian's chromium and a Chinese font for the console tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; } || \
	  echo "chromium is not installed: the console tests will skip (they fail in CI)"; }

demo: install
	$(BIN)/orderhub demo

test: install browser lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

schema: install
	$(BIN)/orderhub schema

lock: install
	$(BIN)/uv pip compile pyproject.toml --no-emit-index-url --no-emit-find-links --no-header -q -o requirements.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --no-emit-index-url --no-emit-find-links --no-header -q -o requirements-dev.txt

bench-quick: install
	$(BIN)/python -m bench.ingest --quick

clean:
	rm -rf $(VENV) .orderhub
