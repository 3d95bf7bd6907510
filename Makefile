# riskloop — `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# xdist workers for the suite; `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= auto

.PHONY: install run test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/riskloop run

lint: install
	$(VENV)/bin/ruff check workflow api web tests bench examples
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check workflow api web tests bench examples

typecheck: install
	$(VENV)/bin/mypy workflow

# Two runs. First everything but tests/e2e on xdist workers, a module per worker so that
# module-scoped worlds (the authz matrix, the browser's live server) are built once; each
# worker has its own PostgreSQL databases, SQLite files and server ports. Then the
# end-to-end proofs one at a time: they start gunicorn, workers, schedulers and private
# Redis/PostgreSQL servers and time outages and shutdowns, which parallel runs on a small
# machine would make flaky.
test: lint typecheck
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope --ignore=tests/e2e $(PYTEST_ARGS)
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache
