"""Interrupted runs leave nothing that breaks the next one (issue 14, item 2).

A scenario run (``pytest scenarios/upgrade -k ha-service-default``) is started in a subprocess and
stopped at a point chosen at random (seeded; the seed and the points are printed, and
``KILL_SEED=<n>`` repeats a choice): during cluster creation, add-on install, chart install or
mid-scenario, detected from the ``[harness]`` progress lines the run prints. The whole process
group gets the signal, as a terminal's Ctrl-C or a CI cancel does.

* SIGINT: the run exits 130 promptly with one ``[harness] interrupted:`` line;
* SIGKILL: the run dies at once (its children too), and the next run on the cluster passes.

Then ``python -m harness clean`` must bring ``docker ps -a``, ``docker network ls``,
``docker volume ls``, ``kind get clusters``, the harness's namespaces and the harness cache's run
directories back to what they were before (taken after a first ``clean``, so earlier runs'
leftovers do not count), ignoring what belongs to other clusters and other live runs.

Host ports: the session's cluster holds 127.0.0.1:18080/18443/30080, so the points after cluster
creation run on the session's cluster (``--harness-reuse-cluster``: add-ons found installed are
left alone, the PostgreSQL container and the namespaces are the run's own), and the creation
point creates a cluster of its own with no host ports (``port_mappings=False``), which it never
gets to use. Runs in ``make test`` / ``make test-cluster`` (marker ``cluster``), never in the
unit or integration folders.
"""
from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.core import runs
from harness.core.pins import cache_dir
from harness.env import containers
from harness.env.cluster import ClusterSpec, render_kind_config
from harness.k8s.namespaces import leftover_namespaces
from harness.tools.exec import run
from harness.tools.kind import Kind

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
OWN_CLUSTER = "harness-kill"
TEST_FILTER = "ha-service-default"
POINTS = ("cluster", "addons", "chart", "scenario")
PATTERNS = {
    "cluster": re.compile(rf"\[harness\] cluster {OWN_CLUSTER} ready: started"),
    "addons": re.compile(r"\[harness\] add-on \S+: started"),
    "chart": re.compile(rf"\[harness\] upgrade {TEST_FILTER}: install released .*: started"),
    "scenario": re.compile(rf"\[harness\] upgrade {TEST_FILTER}: (helm upgrade to the candidate|settle): started"),
}
KIND_LABEL = containers.KIND_CLUSTER_LABEL
HARNESS_CLUSTER_LABEL = "io.helm-e2e-harness.env.cluster"
PROMPT = {"cluster": 90.0, "addons": 30.0, "chart": 30.0, "scenario": 30.0}
"""Seconds from SIGINT to exit: creation deletes its half-made cluster (kind delete) first."""

SEED = int(os.environ.get("KILL_SEED") or random.SystemRandom().randrange(1, 10**6))
_rng = random.Random(SEED)
CHOSEN = {"SIGINT": _rng.choice(POINTS), "SIGKILL": _rng.choice(POINTS)}
print(f"test_interrupt_cluster: seed {SEED} (repeat with KILL_SEED={SEED}): points {CHOSEN}", file=sys.stderr)


def sigint_default() -> None:
    """In the child, before exec: SIGINT back to its default. A run started in the background by a
    non-interactive shell (``cmd &``, as CI may be) inherits SIGINT ignored, and Python then installs
    no KeyboardInterrupt handler: the Ctrl-C under test would be ignored (while helm, which asks for
    SIGINT itself, still stops)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# --------------------------------------------------------------------------- the machine's state


@dataclass(frozen=True)
class Snapshot:
    containers: frozenset[str]
    networks: frozenset[str]
    volumes: frozenset[str]
    clusters: frozenset[str]
    foreign_containers: frozenset[str]
    foreign_volumes: frozenset[str]
    run_dirs: frozenset[str]


def _lines(argv: list[str]) -> list[str]:
    return [ln.strip() for ln in run(argv, timeout=120).stdout.splitlines() if ln.strip()]


def snapshot(ours: set[str]) -> Snapshot:
    """Docker, kind and the harness cache now. ``ours``: the cluster names this test may touch;
    containers labelled with any other kind or harness cluster (and their volumes) are foreign."""
    containers, foreign = set(), set()
    for line in _lines(["docker", "ps", "-a", "--format",
                        '{{.Names}}\t{{.Label "' + KIND_LABEL + '"}}\t{{.Label "' + HARNESS_CLUSTER_LABEL + '"}}']):
        name, kind_cluster, harness_cluster = (line.split("\t") + ["", ""])[:3]
        owner = kind_cluster or harness_cluster
        (foreign if owner and owner not in ours else containers).add(name)
    foreign_volumes: set[str] = set()
    for name in foreign:
        res = run(["docker", "inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}", name], timeout=60, check=False)
        foreign_volumes.update(res.stdout.split())
    root = runs.runs_root(cache_dir())
    return Snapshot(
        containers=frozenset(containers),
        networks=frozenset(_lines(["docker", "network", "ls", "--format", "{{.Name}}"])),
        volumes=frozenset(_lines(["docker", "volume", "ls", "--format", "{{.Name}}"])),
        clusters=frozenset(Kind().get_clusters()),
        foreign_containers=frozenset(foreign),
        foreign_volumes=frozenset(foreign_volumes),
        run_dirs=frozenset(p.name for p in root.iterdir() if not _live_run(p)) if root.is_dir() else frozenset(),
    )


def _live_run(path: Path) -> bool:
    """A run directory of a run still going (this session's own, or another run on the machine)."""
    owner = runs.read_owner(path / runs.OWNER_FILE)
    return owner is not None and owner.host == runs.this_host() and runs.pid_alive(owner.pid)


def clean() -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "harness", "clean"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    print(done.stdout, done.stderr, file=sys.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _dead_run(name: str) -> bool:
    """Whether ``name`` (an add-on container or a run directory) belongs to a run whose recorded
    process is gone: its run id is in the name, its owner record under the runs directory."""
    from harness.core import runs

    root = runs.runs_root()
    for rid in sorted(p.name for p in root.iterdir()) if root.is_dir() else ():
        if rid in name:
            owner = runs.read_owner(root / rid / runs.OWNER_FILE)
            return owner is None or not runs.pid_alive(owner.pid)
    return True  # its run directory is already gone: a finished run's


def differences(before: Snapshot, after: Snapshot, ours: set[str]) -> list[str]:
    """What ``after`` has that ``before`` had not (left over), and what it lost that is not a dead
    run's (``gone``: clean removed something it must not), ignoring other clusters' things. A dead
    run's container or run directory that ``before`` still held (its process was exiting when the
    snapshot was taken, measured in `make test`) may go: removing it is clean's job."""
    problems = []
    foreign_c = before.foreign_containers | after.foreign_containers
    foreign_v = before.foreign_volumes | after.foreign_volumes
    for what, b, a, ignore in (("container", before.containers, after.containers, foreign_c),
                               ("network", before.networks, after.networks, frozenset()),
                               ("volume", before.volumes, after.volumes, foreign_v),
                               ("kind cluster", before.clusters & ours, after.clusters & ours, frozenset()),
                               ("run directory", before.run_dirs, after.run_dirs, frozenset())):
        for name in sorted((a - b) - ignore):
            problems.append(f"{what} {name} is left over")
        for name in sorted((b - a) - ignore):
            if what in ("container", "run directory") and _dead_run(name):
                continue
            problems.append(f"{what} {name} is gone")
    return problems


# --------------------------------------------------------------------------- the run under test


class Run:
    """``pytest scenarios/upgrade -k ha-service-default`` in its own process group, its output read
    line by line (a thread) so a point can be waited for."""

    def __init__(self, args: list[str], tmp: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, "-m", "pytest", str(ROOT / "scenarios" / "upgrade"), "-k", TEST_FILTER,
                "-p", "no:cacheprovider", "-q", "--harness-artifacts-dir", str(tmp / "artifacts"), *args]
        print("run:", " ".join(argv), file=sys.stderr)
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True, preexec_fn=sigint_default)
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> bool:
        """Read lines until one matches (True) or the output ends / ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                return False
            self.lines.append(line)
            if pattern.search(line):
                return True
        return False

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def finish(self, timeout: float) -> tuple[int | None, float]:
        """Wait for the exit; returns (exit code or None when it did not exit in time, seconds waited)."""
        start = time.monotonic()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None, time.monotonic() - start
        took = time.monotonic() - start
        self.wait_for(re.compile(r"(?!)"), timeout=5)  # drain what is left
        return self.proc.returncode, took

    def output(self) -> str:
        return "\n".join(self.lines)


def wait_for_node_container(name: str, timeout: float = 180.0) -> bool:
    """True once kind has started a node container of cluster ``name`` (the creation is under way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _lines(["docker", "ps", "-a", "--filter", f"label={KIND_LABEL}={name}", "--format", "{{.Names}}"]):
            return True
        time.sleep(0.5)
    return False


def run_args(point: str, session_cluster, tmp: Path) -> list[str]:
    """The pytest options for ``point``: a portless cluster of its own for creation, the session's otherwise."""
    if point == "cluster":
        config = tmp / "kind-config.yaml"
        config.write_text(render_kind_config(ClusterSpec(name=OWN_CLUSTER, workers=0, port_mappings=False)))
        args = ["--harness-cluster-name", OWN_CLUSTER, "--harness-kind-config", str(config),
                "--harness-keep-cluster", "never"]
        if session_cluster.node_image:
            args += ["--harness-node-image", session_cluster.node_image]
        return args
    return ["--harness-cluster-name", session_cluster.name, "--harness-reuse-cluster",
            "--harness-keep-cluster", "never"]


def wait_namespaces(api, expected: set[str], timeout: float = 240.0) -> set[str]:
    """The harness's namespaces once they are back to ``expected`` (deleted ones take a while), or at the deadline."""
    deadline = time.monotonic() + timeout
    now = set(leftover_namespaces(api))
    while now != expected and time.monotonic() < deadline:
        time.sleep(2)
        now = set(leftover_namespaces(api))
    return now


@pytest.fixture
def session_kind_cluster(cluster):
    if not cluster.name:
        pytest.skip("the session runs against an external kubeconfig: no kind cluster to run the scenario on")
    if Kind().get_clusters().count(OWN_CLUSTER):
        pytest.fail(f"kind cluster {OWN_CLUSTER} exists before the test; delete it: kind delete cluster --name "
                    f"{OWN_CLUSTER}")
    return cluster


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_an_interrupted_run_leaves_nothing_after_clean(sig, session_kind_cluster, kube_api, tmp_path):
    point = CHOSEN[sig]
    print(f"seed {SEED}: {sig} at {point} (repeat with KILL_SEED={SEED})", file=sys.stderr)
    ours = {OWN_CLUSTER, session_kind_cluster.name}
    clean()  # what earlier runs left is not this run's to account for
    before = snapshot(ours)
    namespaces_before = set(leftover_namespaces(kube_api))

    r = Run(run_args(point, session_kind_cluster, tmp_path), tmp_path)
    try:
        reached = r.wait_for(PATTERNS[point], timeout=900)
        assert reached, f"the run never reached {point} ({PATTERNS[point].pattern}):\n{r.output()[-4000:]}"
        if point == "cluster":
            assert wait_for_node_container(OWN_CLUSTER), f"kind never started a node of {OWN_CLUSTER}"
        else:
            time.sleep(1.0)  # inside the step, not on its first line
        r.signal(getattr(signal, sig))
        rc, took = r.finish(timeout=PROMPT[point] if sig == "SIGINT" else 30)
    finally:
        if r.proc.poll() is None:
            os.killpg(r.proc.pid, signal.SIGKILL)
            r.proc.wait()
    out = r.output()
    if sig == "SIGINT":
        assert rc == 130, f"exit {rc} after SIGINT at {point} (seed {SEED}):\n{out[-4000:]}"
        assert took < PROMPT[point], f"{took:.1f} s to stop after SIGINT at {point}"
        lines = [ln for ln in out.splitlines() if "[harness] interrupted:" in ln]
        assert len(lines) == 1 and "python -m harness clean" in lines[0], out[-4000:]
    else:
        assert rc == -signal.SIGKILL, f"exit {rc} after SIGKILL"

    cleaned = clean()
    assert not re.search(rf"^kept .*{re.escape(OWN_CLUSTER)}", cleaned.stdout, re.M), cleaned.stdout

    after = snapshot(ours)
    problems = differences(before, after, ours)
    assert not problems, f"after {sig} at {point} (seed {SEED}) and clean: " + "; ".join(problems)
    left = wait_namespaces(kube_api, namespaces_before)
    # other tests of this session delete their namespaces without waiting: only new ones are leftovers
    assert left <= namespaces_before, f"namespaces left over: {sorted(left - namespaces_before)}"

    if sig == "SIGKILL":
        # the next run on the cluster passes
        again = Run(run_args("addons", session_kind_cluster, tmp_path / "again"), tmp_path / "again")
        rc, _ = again.finish(timeout=1800)
        assert rc == 0, f"the run after SIGKILL at {point} (seed {SEED}) exited {rc}:\n{again.output()[-4000:]}"
        assert differences(before, snapshot(ours), ours) == []


def test_the_snapshot_comparison_ignores_other_clusters():
    """The comparison itself, on made-up snapshots (no Docker)."""
    # v-other belonged to another cluster before; its going is that cluster's business
    base = dict(networks=frozenset({"kind", "bridge"}), clusters=frozenset({"harness", "other"}),
                run_dirs=frozenset({"r-session"}))
    before = Snapshot(containers=frozenset({"harness-control-plane"}), volumes=frozenset({"v1", "v-other"}),
                      foreign_containers=frozenset({"other-control-plane"}), foreign_volumes=frozenset({"v-other"}),
                      **base)
    after_ok = Snapshot(containers=frozenset({"harness-control-plane"}), volumes=frozenset({"v1", "v-new-other"}),
                        foreign_containers=frozenset({"other-control-plane", "other-worker"}),
                        foreign_volumes=frozenset({"v-new-other"}), **{**base, "clusters": frozenset({"harness"})})
    assert differences(before, after_ok, {"harness", OWN_CLUSTER}) == []
    after_bad = Snapshot(containers=frozenset({"harness-control-plane", "harness-pg-harness-r1-ab12"}),
                         volumes=frozenset({"v1", "v2"}), foreign_containers=frozenset(), foreign_volumes=frozenset(),
                         **{**base, "clusters": frozenset({"harness", OWN_CLUSTER}),
                            "run_dirs": frozenset({"r-session", "r-killed"})})
    problems = differences(before, after_bad, {"harness", OWN_CLUSTER})
    assert problems == ["container harness-pg-harness-r1-ab12 is left over", "volume v2 is left over",
                        f"kind cluster {OWN_CLUSTER} is left over",
                        "run directory r-killed is left over"]
    assert json.dumps(CHOSEN) and set(CHOSEN.values()) <= set(POINTS)
