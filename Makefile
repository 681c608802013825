# Prizm: `make run` shows the mesh working, `make test` runs every gate. Both set themselves up.
PYTHON ?= python3
BIN := .venv/bin
PY_STAMP := .venv/.installed
NODE_STAMP := node_modules/.installed
# .venv/bin first: its Python tools, and Node.js where bootstrap.sh had to take it from PyPI.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup run test lint typecheck protos gen gen-check pytest reliability fuzz bench clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) scripts/bootstrap.sh python
	touch $@

$(NODE_STAMP): package.json package-lock.json scripts/bootstrap.sh | $(PY_STAMP)
	scripts/bootstrap.sh node
	touch $@

run: $(PY_STAMP)
	scripts/demo.sh

test: setup
	$(MAKE) --no-print-directory lint typecheck protos gen-check pytest

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(PY_STAMP)
	$(BIN)/mypy

protos: $(NODE_STAMP)
	scripts/buf_checks.sh

gen: $(PY_STAMP) $(NODE_STAMP)
	$(BIN)/python scripts/gen_protos.py
	$(BIN)/python scripts/gen_options_doc.py
	$(BIN)/python -m prizm_core.services.schema

gen-check: $(PY_STAMP) $(NODE_STAMP)
	$(BIN)/python scripts/gen_protos.py --check
	$(BIN)/python scripts/gen_options_doc.py --check
	$(BIN)/python -m prizm_core.services.schema --check

pytest: $(PY_STAMP)
	$(BIN)/pytest --durations=25

reliability: $(PY_STAMP)
	rm -f out/reliability.json
	$(BIN)/pytest -m faults -q
	$(BIN)/python scripts/reliability_table.py

# Every RPC of a router and a provider, 20,000 mutated requests each (`make test` sends 1,500).
fuzz: $(PY_STAMP)
	PRIZM_FUZZ_PER_METHOD=$${PRIZM_FUZZ_PER_METHOD:-20000} $(BIN)/pytest tests/fuzz -q

bench: $(PY_STAMP)
	scripts/bootstrap.sh nginx
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.report

clean:
	rm -rf .venv node_modules out .mypy_cache .ruff_cache .pytest_cache
