# The two commands that matter: `make test` (the harness's own tests, real cluster included) and
# `make e2e` (cluster, add-ons, every scenario on charts-under-test). Both set themselves up.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
PYTEST := $(VENV)/bin/python -m pytest
CLUSTER ?= harness

.PHONY: setup tools images cluster-up cluster-down test test-unit test-integration test-cluster e2e gate bench clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

## setup: Python environment and the pinned kind, helm and kubectl in .tools/bin
setup: $(VENV)/.installed tools

tools:
	@dir=$$(images/build-tools.sh) && mkdir -p .tools && ln -sfn "$$dir" .tools/bin && echo "==> tools in .tools/bin -> $$dir"

## images: the node image and every image the clusters run (cached; seconds when warm)
images: tools
	@images/build-images.sh

cluster-up: setup images
	$(VENV)/bin/python -m harness cluster up --cluster-name $(CLUSTER)

cluster-down: setup
	$(VENV)/bin/python -m harness cluster down --cluster-name $(CLUSTER)

## test-unit: pure tests (no subprocess; tests/unit/conftest.py enforces it), seconds
test-unit: setup
	ci/pytest.sh $(PYTEST) tests/unit -q

## test-integration: helm, go build, pytest subprocesses, the gate as a command (no cluster)
test-integration: setup
	ci/pytest.sh $(PYTEST) tests/integration -q

## test-cluster: the harness against a real kind cluster
test-cluster: setup images
	ci/pytest.sh $(PYTEST) tests/cluster -q -m cluster

## test: the harness's own tests, all three kinds in one pytest run (its closing line is CI's summary)
test: setup images
	ci/pytest.sh $(PYTEST) tests/unit tests/integration tests/cluster -q

## e2e: every scenario against charts-under-test on a real cluster
e2e: setup images
	ci/pytest.sh --allow-empty $(PYTEST) scenarios -q

## gate: release gate for one chart: make gate CHART=charts-under-test/<name> [GATE_ARGS="--scenarios upgrade"]
## (report in report/; make turns any failure into its own exit 2: CI calls `python -m harness gate` for 0/1/2/3)
ifneq ($(filter gate,$(MAKECMDGOALS)),)
ifeq ($(CHART),)
$(error CHART is required: make gate CHART=charts-under-test/<name> [GATE_ARGS="--scenarios upgrade"])
endif
endif
gate: setup images
	$(VENV)/bin/python -m harness gate --chart $(CHART) $(GATE_ARGS)

bench: setup images
	$(VENV)/bin/python ci/bench_cluster.py

clean:
	rm -rf $(VENV) .tools artifacts
