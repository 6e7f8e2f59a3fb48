# The two commands of the README: `make run` and `make test`. Each sets up
# everything first (venv with pinned packages, Kafka jars, grpcurl), so a
# fresh clone on a fresh machine needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
GRPCURL_VERSION := v1.9.3
export PATH := $(BIN):$(PATH)

.PHONY: setup browser run test unit lint imports breaking gen check-gen bench bench-quick clean

# Every package is pinned with its hashes (requirements.lock: the services';
# requirements-dev.lock: tests, lint, codegen, bench; scripts/lock makes both):
# an artefact whose hash differs is refused.
$(VENV)/.installed: requirements.lock requirements-dev.lock pyproject.toml client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e ./client
	touch $@

$(BIN)/grpcurl:
	GOBIN=$(BIN) GOFLAGS=-mod=mod go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

setup: $(VENV)/.installed $(BIN)/grpcurl
	$(BIN)/python -m localkafka install

# The console's browser tests run headless Chromium: Debian's package (CI
# runs as root on Debian), else the browser Playwright fetches for itself.
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
	  || $(BIN)/python -m playwright install chromium

run: setup
	$(BIN)/python -m launcher

test: setup browser lint check-gen
	$(BIN)/python -m pytest

unit: $(VENV)/.installed
	$(BIN)/python -m pytest tests/unit tests/contract client/tests

# Contracts (buf), import boundaries (import-linter), style (ruff) and types
# (mypy, on the server code). `make test` runs it first.
lint: imports breaking
	$(BIN)/buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Import boundaries (.importlinter): streams/ knows no domain, the domain does no I/O.
imports: $(VENV)/.installed
	PYTHONPATH=$(CURDIR):$(CURDIR)/gen $(BIN)/lint-imports --no-logo

# Contracts: no incompatible change (buf's FILE rules) to a published message
# since the previous commit, the working tree's changes included.
# A published message stays compatible: the protos against the previous
# commit's (a clone without history has nothing to compare with, and says so).
breaking:
	if git rev-parse -q --verify HEAD~1 >/dev/null; then \
	  $(BIN)/buf breaking --against '.git#ref=HEAD~1'; \
	else echo "buf breaking: no previous commit in this clone to compare with"; fi

gen: $(VENV)/.installed
	PYTHON=$(BIN)/python scripts/gen-protos

# Generated code is committed; CI fails when it no longer matches protos/.
check-gen: gen
	@git diff --exit-code --stat -- gen client/src/oms_client/_gen \
	  && test -z "$$(git status --porcelain -- gen client/src/oms_client/_gen)" \
	  || { echo "gen/ or client/src/oms_client/_gen is stale: run 'make gen' and commit it"; exit 1; }

# Benchmarks (issue 7): results and the latency plot go to bench/RESULTS.md
# and bench/latency.png. The full run waits (bounded) for a quiet machine
# before each phase and takes about an hour; the quick one under 5 minutes.
bench: setup
	$(BIN)/python -m bench

bench-quick: setup
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .oms-data
