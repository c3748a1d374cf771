# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit bench-smoke docs install synth

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cdk]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/qldb-archive demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/python -m pytest

bench-smoke: $(BIN)/.installed
	$(BIN)/python benchmarks/smoke.py

docs: $(BIN)/.installed
	$(BIN)/python -m qldb_archive.cli_docs > docs/cli.md

test: lint typecheck unit bench-smoke

# Synthesise the CDK app into infra/build/cdk.out, offline (cdk-nag included).
synth: $(BIN)/.installed
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_OUTDIR=build/cdk.out $(BIN)/python -m infra.app
