# The two commands that matter: `make test` (the harness's own tests, real cluster included) and
# `make e2e` (cluster, add-ons, every scenario on charts-under-test). Both set themselves up.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
PYTEST := $(VENV)/bin/python -m pytest
CLUSTER ?= harness

.PHONY: setup tools images registry registry-stop cluster-up cluster-down test test-unit test-integration test-cluster e2e e2e-serial e2e-parallel e2e-helm3 e2e-pull matrix gate gate-edges bench bench-upgrade bench-pull bench-parallel cold-check soak clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

## setup: Python environment and the pinned kind, helm and kubectl in .tools/bin
setup: $(VENV)/.installed tools

tools:
	@dir=$$(images/build-tools.sh) && images/build-actionlint.sh "$$dir" && mkdir -p .tools && ln -sfn "$$dir" .tools/bin && echo "==> tools in .tools/bin -> $$dir"

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

## e2e: every scenario against charts-under-test on a real cluster, WORKERS tests at once on pytest-xdist
## workers sharing the cluster (docs/parallel.md; the `workers` setting: default HARNESS_WORKERS, else
## auto = one per core and one more, 2 to 4); make e2e-serial runs them one after another
WORKERS ?= $(or $(HARNESS_WORKERS),auto)
e2e: setup images
	ci/pytest.sh --allow-empty $(PYTEST) scenarios -q -n auto --harness-workers $(WORKERS)

## e2e-serial: make e2e's scenarios one after another in one process (the benchmark's serial kind)
e2e-serial: setup images
	ci/pytest.sh --allow-empty $(PYTEST) scenarios -q

## e2e-parallel: the same as make e2e (its name before make e2e ran on workers)
e2e-parallel: e2e

## e2e-helm3: the upgrade and rollback scenarios with the pinned Helm 3 as the helm under test, then the
## Helm 3 -> Helm 4 upgrade (released chart installed by helm3, upgraded by the pinned helm): no extra build
## (helm3 is in .tools/bin). Runs on cluster $(CLUSTER): reused when it exists (`HARNESS_KEEP_CLUSTER=always
## make e2e` leaves it), else created; deleted at the end when it passed and this target created it, or
## E2E_HELM3_DELETE=1 says so (.ci/run); kept after a failure, like keep-cluster=on-failure.
E2E_HELM3_DELETE ?=
e2e-helm3: setup images
	@existed=$$(.tools/bin/kind get clusters 2>/dev/null | grep -x '$(CLUSTER)' || true); rc=0; \
	ci/pytest.sh $(PYTEST) scenarios/upgrade scenarios/rollback -q --harness-cluster-name $(CLUSTER) \
		--harness-reuse-cluster --harness-keep-cluster always --harness-helm .tools/bin/helm3 \
		--harness-artifacts-dir artifacts/helm3 || rc=$$?; \
	[ $$rc -ne 0 ] || ci/pytest.sh $(PYTEST) scenarios/upgrade -q --harness-cluster-name $(CLUSTER) \
		--harness-reuse-cluster --harness-helm-from 3 -k from-helm3 --harness-artifacts-dir artifacts/helm3-to-4 \
		|| rc=$$?; \
	if [ $$rc -eq 0 ] && { [ -z "$$existed" ] || [ -n "$(E2E_HELM3_DELETE)" ]; }; then \
		$(VENV)/bin/python -m harness cluster down --cluster-name $(CLUSTER); fi; \
	exit $$rc

## matrix: scenarios across Kubernetes versions x helms, one cluster per version in turn (harness-v1-37...);
## report/matrix.md and report/matrix.json. make matrix [MATRIX_SCENARIOS="upgrade rollback"]
## [MATRIX_K8S="v1.35 v1.37"] [MATRIX_HELM="4 3 3to4"] (defaults: upgrade rollback; every supported version; 4 3)
MATRIX_SCENARIOS ?=
MATRIX_K8S ?=
MATRIX_HELM ?=
matrix: setup
	$(VENV)/bin/python -m harness matrix --scenarios "$(MATRIX_SCENARIOS)" --kubernetes "$(MATRIX_K8S)" \
		--helms "$(MATRIX_HELM)"

## gate: release gate for one chart: make gate CHART=charts-under-test/<name> [GATE_ARGS="--scenarios upgrade"]
## (report in report/; make turns any failure into its own exit 2: CI calls `python -m harness gate` for 0/1/2/3)
ifneq ($(filter gate,$(MAKECMDGOALS)),)
ifeq ($(CHART),)
$(error CHART is required: make gate CHART=charts-under-test/<name> [GATE_ARGS="--scenarios upgrade"])
endif
endif
gate: setup images
	$(VENV)/bin/python -m harness gate --chart $(CHART) $(GATE_ARGS)

## e2e-pull: the pull path users take, run here (ci/e2e_pull.py): a loopback registry holds the local
## builds under their upstream names; cluster harness-pull (default ports: run it when the harness cluster
## is gone) pulls the node image, the edge, busybox, PostgreSQL and the charts' images from it; upgrade
## and sse; fails when the registry's log lacks a pull or the session loaded an image
e2e-pull: setup images
	$(VENV)/bin/python ci/e2e_pull.py

## gate-edges: the gate through both Traefik edges on cluster $(CLUSTER) (reused when it exists, else
## created and deleted when it passes): upgrade and sse of both bundled charts through their Ingress
## (traefik-nginx) and their HTTPRoute (traefik-gateway), rows side by side and the migration diff in
## report/edges/ (docs/gate.md, "Through several edges")
gate-edges: setup images
	$(VENV)/bin/python -m harness gate --chart charts-under-test/ha-service --chart charts-under-test/realtime \
		--scenarios upgrade,sse --edge traefik-nginx,traefik-gateway --cluster-name $(CLUSTER) \
		--report-dir report/edges --artifacts-dir artifacts/edges $(GATE_ARGS)

## bench: the cluster toolchain benchmark (docs/performance.md): warm make images, 1- and 3-node create
## + Ready (median of 3); make bench BENCH_K8S="v1.35.4 v1.36.3 v1.37.2" adds 3-node create per version
BENCH_K8S ?=
bench: setup images
	$(VENV)/bin/python ci/bench_cluster.py --kubernetes "$(BENCH_K8S)"

## bench-upgrade: the upgrade scenario's wall time, Helm 4 vs Helm 3, on one kept cluster (median of 3)
bench-upgrade: setup images
	$(VENV)/bin/python ci/bench_upgrade.py

## bench-pull: cluster create + add-ons Ready with every image pulled through the loopback registry versus
## preloaded with kind load (ci/bench_pull.py, median of 3, artifacts/bench-pull.json); no other harness cluster up
bench-pull: setup images
	$(VENV)/bin/python ci/bench_pull.py

## bench-parallel: make e2e's scenarios serially and on xdist workers (WORKERS), alternating, on cluster
## harness (reused, kept): wall-time ratio, same verdicts, peak memory, CPU busy share, late sends (docs/performance.md)
## (PARALLEL_REPEATS=5: each round's parallel kind five times in a row, every run compared with the serial one)
BENCH_RUNS ?= 1
PARALLEL_REPEATS ?= 1
bench-parallel: setup images
	$(VENV)/bin/python ci/bench_parallel.py --runs $(BENCH_RUNS) --workers $(WORKERS) --parallel-repeats $(PARALLEL_REPEATS)

## cold-check: the whole image build (images/build-tools.sh + build-images.sh, default Kubernetes version) from
## empty caches: a temporary HARNESS_CACHE, GOCACHE and GOMODCACHE, the node image built locally, and the images
## the build makes deleted first (so CONFIRM=1 is required); each step's seconds and the total in
## artifacts/cold-check.md and .json. make cold-check DRY_RUN=1 prints what it would delete and the env it would use.
CONFIRM ?=
DRY_RUN ?=
cold-check: $(VENV)/.installed
	$(VENV)/bin/python ci/cold_check.py $(if $(DRY_RUN),--dry-run) $(if $(CONFIRM),--yes)

## soak: the full e2e suite N times on one warm machine, one cluster ($(CLUSTER)) reused by every run; failures
## per scenario and test, unexpected results, wall time per run in artifacts/soak.md and .json (ci/soak.py).
## A cluster the soak created is deleted at the end. make soak N=5
N ?= 5
soak: setup images
	$(VENV)/bin/python ci/soak.py --runs $(N) --cluster-name $(CLUSTER)

## registry: the loopback OCI registry (distribution, images/build-registry.sh) on 127.0.0.1 for images
## and charts, kept until `make registry-stop`; prints its address. make registry [REGISTRY_PORT=5001]
## (default: a port Docker chooses). docs/cluster.md, "How users' machines get their images".
REGISTRY_PORT ?= 0
registry: setup
	@images/build-registry.sh >/dev/null
	$(VENV)/bin/python -m harness registry up --port $(REGISTRY_PORT)

## registry-stop: remove the registry `make registry` started, with its storage (test runs' registries stay)
registry-stop: setup
	$(VENV)/bin/python -m harness registry down

clean:
	rm -rf $(VENV) .tools artifacts
