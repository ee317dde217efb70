# Every target sets itself up: the first run creates .venv from the pinned requirements.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
EXPORT ?=
POLICY_CONFIG ?=
STAMP := $(VENV)/.installed

.PHONY: setup plan plan-all test lint typecheck check-export bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	touch $(STAMP)

## make plan [STACK=dev]: offline plan + policy report; the wrapped command exits 1 on a
## mandatory violation and 2 on invalid config (make itself then reports Error 1/2).
plan: $(STAMP)
	$(PY) -m offline.plan --stack $(STACK)

plan-all: $(STAMP)
	@for s in dev staging prod; do $(PY) -m offline.plan --stack $$s || exit $$?; done

## make check-export EXPORT=f.json [POLICY_CONFIG=c.json]
check-export: $(STAMP)
	@test -n "$(EXPORT)" || { echo "check-export: exit 2: set EXPORT=<pulumi stack export file>" >&2; exit 2; }
	$(PY) -m offline.check_export $(EXPORT) $(POLICY_CONFIG)

test: $(STAMP)
	$(PY) -m pytest
	$(PY) -m ruff check .
	$(PY) -m mypy

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf build .mypy_cache .ruff_cache .hypothesis
