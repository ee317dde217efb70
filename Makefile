# Every target sets itself up: the first run creates .venv from the pinned requirements.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
EXPORT ?=
POLICY_CONFIG ?=
## CHART=<dir or .tgz of the alluxio chart> renders the releases into build/plan/<stack>/rendered/
## (default: $$ACK_ALLUXIO_CHART, else ../shared/reference/alluxio/helm-chart-<version> when present).
CHART ?=
STAMP := $(VENV)/.installed
## Checkov lives in a virtualenv of its own: its pinned dependencies clash with ours.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: setup setup-checkov security-scan plan plan-all test lint typecheck check-export bench clean config-reference schema policy-bundle components-reference

setup: $(STAMP)

$(STAMP): requirements.txt requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup-checkov: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt requirements-checkov.lock
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt -c requirements-checkov.lock
	touch $(CHECKOV_STAMP)

## make security-scan: Checkov over every stack's plan; exit 1 on a finding SECURITY.md does not justify.
security-scan: $(STAMP) $(CHECKOV_STAMP)
	$(PY) -m ack_alluxio_training.offline.security_scan

## make plan [STACK=dev]: offline plan + policy report; the wrapped command exits 1 on a
## mandatory violation and 2 on invalid config (make itself then reports Error 1/2).
plan: $(STAMP)
	$(PY) -m ack_alluxio_training.offline.plan --stack $(STACK) $(if $(CHART),--chart $(CHART))

plan-all: $(STAMP)
	@for s in dev staging prod; do $(PY) -m ack_alluxio_training.offline.plan --stack $$s $(if $(CHART),--chart $(CHART)) || exit $$?; done

## make check-export EXPORT=f.json [POLICY_CONFIG=c.json]
check-export: $(STAMP)
	@test -n "$(EXPORT)" || { echo "check-export: exit 2: set EXPORT=<pulumi stack export file>" >&2; exit 2; }
	$(PY) -m ack_alluxio_training.offline.check_export $(EXPORT) $(POLICY_CONFIG)

test: $(STAMP) $(CHECKOV_STAMP)
	$(PY) -m pytest
	$(PY) -m ruff check .
	$(MAKE) --no-print-directory typecheck

lint: $(STAMP)
	$(PY) -m ruff check .

## mypy cannot follow setuptools' editable import hook, so it reads the package through a tree
## of links laid out as the installed package is (components/ -> ack_alluxio_training/, ...).
TYPECHECK_ROOT := build/typecheck
typecheck: $(STAMP)
	@rm -rf $(TYPECHECK_ROOT) && mkdir -p $(TYPECHECK_ROOT)/ack_alluxio_training
	@cp -rs "$(CURDIR)/components/." $(TYPECHECK_ROOT)/ack_alluxio_training/
	@cp -rs "$(CURDIR)/policies" "$(CURDIR)/offline" $(TYPECHECK_ROOT)/ack_alluxio_training/
	@find $(TYPECHECK_ROOT) -name __pycache__ -prune -exec rm -rf {} +
	MYPYPATH=$(TYPECHECK_ROOT) $(PY) -m mypy

## make bench [BENCH_SIZES=1000,10000,100000] [BENCH_MIXES=mixed,helm,mpijob,job] [BENCH_GRPC_SAMPLE=500]
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf build .mypy_cache .ruff_cache .hypothesis

## Regenerate the README's config reference from the settings models.
config-reference: $(STAMP)
	$(PY) -m ack_alluxio_training.offline.config_reference --write

## Refresh the component package's schema snapshot after an intended change of a component's
## inputs or outputs (tests/test_component_package.py compares it).
schema: $(STAMP)
	$(PY) -m ack_alluxio_training.component_package --write tests/snapshots/schema.json

## A self-contained copy of the policy pack for `pulumi policy publish build/policy-pack`
## (docs/ci/README.md: publishing).
policy-bundle: $(STAMP)
	$(PY) -m ack_alluxio_training.offline.policy_bundle build/policy-pack

## Regenerate docs/components.md (every component's inputs and outputs) from the schema.
components-reference: $(STAMP)
	$(PY) -m ack_alluxio_training.offline.components_reference --write docs/components.md
