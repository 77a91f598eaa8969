# Two commands on a fresh Debian machine:  make run  |  make test
# Both provision what they need (Debian packages, .venv, the package, fonts) and are idempotent.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
APT_PACKAGES := libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk \
	poppler-utils qpdf zbar-tools libnss3-tools chromium
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test deps venv fonts lint bench clean

run: venv fonts
	$(BIN)/doc-service serve --demo --host $(HOST) --port $(PORT)

test: venv fonts
	$(BIN)/python -m pytest $(PYTEST_ARGS)

deps: $(STAMPS)/apt
$(STAMPS)/apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@mkdir -p $(STAMPS) && touch $@

venv: deps $(STAMPS)/venv
$(STAMPS)/venv: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	@mkdir -p $(STAMPS) && touch $@

fonts: venv
	$(BIN)/python -m doc_service.rendering.fonts

# ruff everywhere; mypy on the packages (strict on signing/ and the composition root:
# see [tool.mypy] in pyproject.toml).
lint: venv
	$(BIN)/ruff check doc_service signing archive tests
	$(BIN)/mypy doc_service signing archive

bench: venv fonts
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf $(STAMPS) $(VENV) templates/fonts/*.otf templates/fonts/*.recipe
