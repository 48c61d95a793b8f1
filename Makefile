# napops: one entry point for operators and CI. `make help` lists the targets.
# Each area keeps its own targets in mk/<area>.mk; this file holds what they share.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV ?= dev
export ENV

VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# test files run in parallel (pytest-xdist, a file per worker at a time: tests/conftest.py);
# most of the suite waits (on timers, containers, servers), so there are more workers than
# cores. PYTEST_WORKERS=0 runs them one by one in this process
PYTEST_WORKERS ?= 6
# the JUnit report of the last `make test` (make test-durations reads it)
TEST_REPORT ?= .test-report.xml

.PHONY: help venv test test-durations lint bench validate
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: services/pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e 'services[test]'
	touch $@

venv: $(VENV)/.installed ## create the virtualenv with napops and its test tools

# `make validate` runs its static test files through pytest; `make test` runs every suite once,
# in its own pytest run, so its validate step leaves them to that run (IN_TEST=1).
VALIDATE_PYTEST = $(if $(IN_TEST),@echo "  (run by make test's pytest run:)",$(PY) -m pytest -q -p no:cacheprovider)

test: venv images ## static checks (make validate), then the whole test suite once; does its own set-up
	$(MAKE) --no-print-directory validate IN_TEST=1
	$(PY) -m pytest tests --ignore=tests/bench --durations=30 -n $(PYTEST_WORKERS) --dist loadfile \
		--no-loadscope-reorder --junitxml=$(TEST_REPORT) $(PYTEST_ARGS)

# the longest test files are handed to the workers first (tests/support/schedule.py); after a
# full `make test`, this records how long each file took, for the next runs' order
test-durations: ## record each test file's seconds from the last `make test` (tests/durations.json)
	python3 tests/support/schedule.py $(TEST_REPORT) > tests/durations.json.new \
		|| { rm -f tests/durations.json.new; exit 2; }
	mv tests/durations.json.new tests/durations.json

# compose/estate.py and the Python scripts under compose/bin are linted with the services.
LINT_COMPOSE := compose/estate.py compose/bin/estate compose/bin/secrets-gen
lint: venv ## ruff (check and format) and mypy
	$(VENV)/bin/ruff check services tests $(LINT_COMPOSE)
	$(VENV)/bin/ruff format --check services tests $(LINT_COMPOSE)
	$(VENV)/bin/mypy services/napops compose/estate.py

bench: venv images ## benchmarks; results go to docs/benchmarks.md
	$(PY) -m pytest tests/bench -s -p no:cacheprovider $(PYTEST_ARGS)

validate: validate-compose validate-monitoring validate-grafana ## check compose, Prometheus, Alertmanager, Grafana and Loki configs without starting anything

include $(wildcard mk/*.mk)
