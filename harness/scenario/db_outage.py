"""db_outage: when PostgreSQL goes away, does the chart take its pods out of service -- without
restarting them -- and bring them back when the database returns?

Steps: install the candidate with a database on the postgres add-on (variant values; a negative
control adds its overlay); rolled out; serving; write data with the contract's declared data
check (``data.write``; skipped when none is declared); read the probe bounds. Then, per fault
control of the add-on (``stop``/``start``: connection refused; ``pause``/``unpause``: the server
hangs; ``disconnect``/``reconnect``: packets go nowhere): with every pod Ready, take the database
away for ``max(HARNESS_SCENARIO_OUTAGE_MIN, liveness periodSeconds x failureThreshold + periodSeconds +
HARNESS_SCENARIO_OUTAGE_MARGIN)`` seconds (long enough for a liveness probe that wrongly pings the
database to restart the pods) while a watch samples pod readiness and the Service's EndpointSlices
twice a second and a prober requests the probe path through the ingress; bring it back; wait for
the pods; read the data back.

Bounds come from the rendered manifest (read from helm's storage Secret): NotReady within readiness
``periodSeconds x failureThreshold + timeoutSeconds + HARNESS_SCENARIO_OUTAGE_MARGIN``; Ready again
within ``periodSeconds x successThreshold + timeoutSeconds + HARNESS_SCENARIO_RECOVERY_MARGIN``.

Pass when (:func:`harness.scenario.verdicts.db_outage_verdict`): every pod became NotReady within the
bound, the Service had no ready endpoints, the ingress answered 503 itself once the pods should be out (no
hanging requests, nothing passed through from the pods), no container restarted, all pods were
Ready again within the recovery bound, and the data written before is intact (``data.read``; a
contract without a data check: the figure "data integrity: not declared", not a failure).

The database is one server for the whole cluster, so one outage serves every selected chart at
once (a shared run): each (chart, fault) test gets its own verdict from the same outage.
"""
from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from harness.core import progress
from harness.core.errors import HarnessError
from harness.k8s.client import REQUEST_TIMEOUT
from harness.k8s.conditions import pod_is_ready, ready_endpoints, restarts_since
from harness.k8s.wait import wait_for
from harness.scenario.context import ScenarioContext
from harness.scenario.datacheck import Written
from harness.scenario.manifests import probe_bounds
from harness.scenario.probing import probe_while
from harness.scenario.steps import together
from harness.scenario.verdicts import (
    Check,
    IngressAnswers,
    OutageFacts,
    Verdict,
    db_outage_verdict,
)

FAULTS = ("stop", "pause", "disconnect")
CONTROLS = {"stop": ("stop", "start"), "pause": ("pause", "unpause"), "disconnect": ("disconnect", "reconnect")}
INGRESS_SETTLE = 3.0  # seconds for the ingress controller to act on the EndpointSlice change


@dataclass
class Prepared:
    """One release ready for outages: the data written (None: no data check declared), the
    Services behind its Ingress, its bounds (seconds)."""

    written: Written | None
    services: list[str]
    not_ready_bound: float
    recovery_bound: float
    outage_needed: float


def backend_services(objs: list[dict[str, Any]]) -> list[str]:
    """The Services the rendered Ingresses route to (default backend and every path), in order, once each."""
    out = []
    for o in objs:
        if o.get("kind") != "Ingress":
            continue
        spec = o.get("spec") or {}
        backs = [spec.get("defaultBackend")] if spec.get("defaultBackend") else []
        for rule in spec.get("rules") or []:
            backs += [p.get("backend") for p in (rule.get("http") or {}).get("paths") or []]
        for b in backs:
            name = ((b or {}).get("service") or {}).get("name")
            if name and name not in out:
                out.append(name)
    return out


def prepare(ctx: ScenarioContext) -> Prepared:
    """Install the chart with its database, wait until it serves, write data (when declared), and derive the
    outage's bounds from the rendered probes.

    Raises:
        harness.scenario.steps.StepFailed: a step failed, or the workloads have no readiness probe
            (a database outage could never take the pods out of service).
    """
    s = ctx.settings
    ctx.install_candidate()
    with ctx.step("rolled out"):
        ctx.wait_rolled_out()
    with ctx.step("serving"):
        ctx.wait_serving()
    written = None
    if ctx.data_declared:  # the contract's data check; else the verdict reports "not declared"
        with ctx.step("write data"):
            written = ctx.write_data(2)
    with ctx.step("probe bounds"):
        objs = ctx.manifest()
        bounds = list(probe_bounds(objs).values())
        rp = [b for b in bounds if "readiness_period" in b]
        if not rp:
            raise HarnessError(f"{ctx.target.id}: no readiness probe in the rendered workloads: a database outage "
                               "can never take the pods out of service")
    not_ready = max(b["readiness_period"] * b["readiness_failure"] + b["readiness_timeout"] for b in rp) + s.outage_margin
    recovery = max(b["readiness_period"] * b["readiness_success"] + b["readiness_timeout"] for b in rp) + s.recovery_margin
    live = [b["liveness_period"] * b["liveness_failure"] + b["liveness_period"] for b in bounds if "liveness_period" in b]
    needed = max([s.outage_min, not_ready + INGRESS_SETTLE + 5, *(x + s.outage_margin for x in live)])
    ctx.record_all({"not_ready_bound_s": not_ready, "recovery_bound_s": recovery, "outage_needed_s": needed})
    return Prepared(written, backend_services(objs), not_ready, recovery, needed)


@dataclass
class Observation:
    """Samples of one release during an outage: ``(wall, {pod: ready}, ready endpoints)``."""

    samples: list[tuple[float, dict[str, bool], int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Observer:
    """Samples pod readiness and ready endpoints of one release twice a second in a thread."""

    def __init__(self, ctx: ScenarioContext, services: list[str], interval: float = 0.5, max_duration: float = 600):
        self.ctx = ctx
        self.services = services
        self.interval = interval
        self.max_duration = max_duration
        self.obs = Observation()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"observe-{ctx.target.id}", daemon=True)

    def start(self) -> Observer:
        self._thread.start()
        return self

    def stop(self) -> Observation:
        self._stop.set()
        self._thread.join(15)
        return self.obs

    def _loop(self) -> None:

        disc = client.DiscoveryV1Api(self.ctx.api)
        deadline = time.monotonic() + self.max_duration
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                pods = {p.metadata.name: pod_is_ready(p) for p in self.ctx.pods()}
                eps = 0
                for svc in self.services:
                    eps += len(ready_endpoints(disc.list_namespaced_endpoint_slice(
                        self.ctx.namespace, label_selector=f"kubernetes.io/service-name={svc}",
                        _request_timeout=REQUEST_TIMEOUT).items))
                self.obs.samples.append((time.time(), pods, eps))
            except Exception as exc:  # noqa: BLE001 - a missed sample is noted, not fatal
                self.obs.errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            self._stop.wait(self.interval)


def facts_for(ctx: ScenarioContext, prep: Prepared, fault: str, obs: Observation, probe: Any, t_fault: float,
              t_restore: float, t_back: float, restarts: dict[str, int], ready_before: list[str]) -> OutageFacts:
    """``t_fault``: the fault is in effect; ``t_restore``: restoring begins (the outage's end for
    judging); ``t_back``: the database accepts queries again (recovery is timed from here)."""
    not_ready_after: dict[str, float | None] = {}
    for pod in ready_before:
        first = next((w for w, pods, _ in obs.samples if t_fault <= w <= t_restore and not pods.get(pod, False)),
                     None)
        not_ready_after[pod] = None if first is None else round(first - t_fault, 2)
    empty = next((w for w, _, eps in obs.samples if t_fault <= w <= t_restore and eps == 0), None)
    recovered = next((w for w, pods, _ in obs.samples if w >= t_back and pods and all(pods.values())
                      and len(pods) >= len(ready_before)), None)
    judged_from = t_fault + prep.not_ready_bound + INGRESS_SETTLE
    return OutageFacts(
        fault=fault, duration=round(t_restore - t_fault, 1), not_ready_bound=prep.not_ready_bound,
        not_ready_after=not_ready_after, endpoints_empty_after=None if empty is None else round(empty - t_fault, 2),
        ingress=IngressAnswers.from_probe(probe, judged_from, t_restore), restarts=restarts,
        recovery_bound=prep.recovery_bound,
        ready_after_recovery=None if recovered is None else round(recovered - t_back, 2),
        data=ctx.data_facts(prep.written))


def all_ready(ctx: ScenarioContext) -> tuple[bool, str]:
    """Every workload pod is Ready and there are as many as the workloads want (a wait condition)."""
    pods = ctx.pods()
    return all(pod_is_ready(p) for p in pods) and len(pods) >= ctx.desired_replicas(), "waiting for all pods Ready"


def run_outage(pairs: list[tuple[ScenarioContext, Prepared]], fault: str) -> dict[str, Verdict]:
    """One outage of kind ``fault`` for every prepared release at once: ``{target id: Verdict}``.

    The database is given back whatever happens (a failed step, an interrupt).
    """
    if not pairs:
        return {}
    ctx0 = pairs[0][0]
    server = ctx0.postgres
    take, give = (getattr(server, n) for n in CONTROLS[fault])
    duration = max(p.outage_needed for _, p in pairs)
    out: dict[str, Verdict] = {}
    ready_pairs = []
    for ctx, prep in pairs:  # every release starts the outage fully Ready (an earlier outage may have left it not)
        with ctx.attempt(f"all pods Ready before the {fault} outage") as ready:
            wait_for(lambda c=ctx: all_ready(c), timeout=60, interval=1.0,
                     what=f"{ctx.release} Ready before the {fault} outage")
        if ready.failed:  # judged as a failed precondition
            out[ctx.target.id] = Verdict.from_checks(
                [Check("precondition", False, f"not every pod was Ready before the {fault} outage: {ready.error}")],
                {"fault": fault}, "")
        else:
            ready_pairs.append((ctx, prep))
    if not ready_pairs:
        return out
    state: dict[str, dict[str, Any]] = {}
    t_fault = t_restore = t_back = time.time()
    taken = False
    with ExitStack() as stack:
        for ctx, prep in ready_pairs:
            pods = ctx.pods()
            before = ctx.restart_counts()
            probing = stack.enter_context(probe_while(
                ctx, None, baseline=0, name=f"probe-{fault}", title=f"db_outage {fault} {ctx.target.id}",
                rate=10, concurrency=6, connect_timeout=2, read_timeout=5, pod_lanes=True))
            observer = Observer(ctx, prep.services).start()
            stack.callback(observer.stop)  # on every way out; stopped first (below) when all goes well
            state[ctx.target.id] = {"before": before, "ready_before": [p.metadata.name for p in pods],
                                    "observer": observer, "probing": probing}
        try:
            time.sleep(ctx0.settings.probe_baseline)  # a baseline for every release at once
            with together([c.steps for c, _ in ready_pairs],
                          f"PostgreSQL {fault} for {duration:.0f} s ({len(ready_pairs)} releases)"):
                for st in state.values():
                    st["probing"].mark(f"db {fault}")
                take()
                taken = True
                t_fault = time.time()
                progress.say(f"db_outage: database {fault} in effect; holding {duration:.0f} s")
                while time.time() - t_fault < duration:
                    time.sleep(0.5)
            with together([c.steps for c, _ in ready_pairs], f"PostgreSQL {CONTROLS[fault][1]}"):
                t_restore = time.time()
                give()
                taken = False
                t_back = time.time()
                for st in state.values():
                    st["probing"].mark(f"db {CONTROLS[fault][1]}")
            with together([c.steps for c, _ in ready_pairs], "pods Ready again"):
                longest = max((p.recovery_bound for _, p in ready_pairs), default=10)
                deadline = time.time() + longest + 30
                while time.time() < deadline:
                    if all(st["observer"].obs.samples and st["observer"].obs.samples[-1][0] > t_back
                           and all(st["observer"].obs.samples[-1][1].values()) for st in state.values()):
                        break
                    time.sleep(0.5)
                time.sleep(1.0)
        finally:
            if taken:  # never leave the database down
                try:
                    give()
                except Exception as exc:  # noqa: BLE001 - reported; the original error wins
                    progress.say(f"db_outage: could not undo {fault}: {exc}")
            for st in state.values():  # the observations end here, before the probers' evidence is saved
                st["observer"].stop()
    for ctx, prep in ready_pairs:
        st = state[ctx.target.id]
        with ctx.step("judge"):
            obs, probe = st["observer"].obs, st["probing"].probe
            restarts = restarts_since(st["before"], ctx.restart_counts())
            facts = facts_for(ctx, prep, fault, obs, probe, t_fault, t_restore, t_back, restarts, st["ready_before"])
            extra = {"observer_samples": len(obs.samples), "observer_errors": len(obs.errors),
                     "db_restore_seconds": round(t_back - t_restore, 2),
                     # the prober's own timing error over the whole run (the judged window's late failures: IngressAnswers)
                     **probe.lateness_figures("probe")}
            ctx.write_artifact(f"observed-{fault}.csv",
                "wall,ready_endpoints,pods\n" + "".join(
                    f"{w:.3f},{eps},{' '.join(f'{p}={int(r)}' for p, r in sorted(pods.items()))}\n"
                    for w, pods, eps in obs.samples))
            out[ctx.target.id] = db_outage_verdict(facts, extra_figures=extra)
            ctx.write_artifact(f"verdict-{fault}.txt", out[ctx.target.id].reason + "\n")
    return out


def run_db_outage(ctx: ScenarioContext, fault: str = "stop") -> Verdict:
    """The scenario for one chart and one fault (what the shared run does for several)."""
    return run_outage([(ctx, prepare(ctx))], fault)[ctx.target.id]


