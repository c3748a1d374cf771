# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

QLDB_VENV ?= .venv-qldb
QLDB_BIN := $(QLDB_VENV)/bin

.PHONY: demo demo-smoke test lint typecheck unit bench-smoke docs install synth qldb-env qldb-test

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cdk]'
	touch $@

install: $(BIN)/.installed

# The QLDB ledger target's own environment: the `qldb` extra of pyproject.toml (pyqldb and its
# legacy pins, which cannot share .venv with amazon-ion 0.15), plus pytest for its tests. The
# project itself is not installed there: restore/targets/qldb.py runs it with the repo on its path.
$(QLDB_BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(QLDB_VENV)
	$(QLDB_BIN)/python -m pip install --quiet --upgrade pip
	$(PYTHON) -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['qldb']))" > $(QLDB_VENV)/requirements.txt
	$(QLDB_BIN)/python -m pip install --quiet -r $(QLDB_VENV)/requirements.txt 'pytest>=8'
	touch $@

qldb-env: $(QLDB_BIN)/.installed

# The worker's tests, run by the qldb environment's Python against the local QLDB session double.
qldb-test: $(QLDB_BIN)/.installed
	$(QLDB_BIN)/python -m pytest -p no:cacheprovider tests/qldb_env

demo: $(BIN)/.installed
	$(BIN)/qldb-archive demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed $(QLDB_BIN)/.installed
	$(BIN)/python -m pytest

bench-smoke: $(BIN)/.installed
	$(BIN)/python benchmarks/smoke.py

docs: $(BIN)/.installed
	$(BIN)/python -m qldb_archive.cli_docs > docs/cli.md

# The README's first command at a small size, through the installed console script (CI runs it on a
# clean clone in a fresh .venv, as a newcomer would).
demo-smoke: $(BIN)/.installed
	rm -rf build/demo-smoke
	$(BIN)/qldb-archive demo --out build/demo-smoke --revisions 500 --quiet

test: lint typecheck unit qldb-test bench-smoke demo-smoke

# Synthesise the CDK app into infra/build/cdk.out, offline (cdk-nag included).
synth: $(BIN)/.installed
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_OUTDIR=build/cdk.out $(BIN)/python -m infra.app
