"""Where a pytest process stands in a pytest-xdist run, and what it shares with the others.

Pure helpers over ``config`` (no hook, no fixture: harness/plugin/parallel.py has those):

* the run id: one per ``pytest`` command. The xdist controller makes it and hands it to every
  worker (``workerinput["harness_run_id"]``, :func:`run_id`), so the namespaces, the add-ons'
  containers and the run directory of one parallel run carry one id, like a serial run's;
* the owner pid: the controller's (``workerinput["harness_owner_pid"]``). It lives until the last
  worker is done, so ``python -m harness clean`` (harness/core/runs.py: a live pid's resources are
  never removed) leaves a parallel run's cluster and namespaces alone while any worker may use them;
* per-worker files: a worker writes ``timings.json`` and ``scenarios.json`` under
  ``<artifacts>/workers/<worker id>/`` (:func:`output_path`); the controller merges the records.

Relied on (pytest-xdist, https://pytest-xdist.readthedocs.io/en/stable/how-to.html#identifying-the-worker-process-during-a-test):
a worker's ``config.workerinput`` holds ``workerid`` and whatever the controller's
``pytest_configure_node`` put in ``node.workerinput``; the controller has ``config.option.numprocesses``
(``-n``) and ``config.option.dist``.
"""
from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from harness.core import locks
from harness.core import parallel as plan
from harness.core.locks import Holder

RUN_ID_INPUT = "harness_run_id"
OWNER_PID_INPUT = "harness_owner_pid"
UNSUPPORTED_INPUT = "harness_unsupported"
WORKERS_DIR = "workers"
MAIN = "main"
"""The worker name of a process that is no xdist worker (a serial run, the controller)."""


def worker_id(config: Any) -> str | None:
    """The xdist worker id (``gw0``), None outside a worker."""
    inp = getattr(config, "workerinput", None)
    return str(inp.get("workerid", "gw?")) if inp is not None else None


def worker_name(config: Any) -> str:
    """:func:`worker_id`, or ``main``."""
    return worker_id(config) or MAIN


def is_worker(config: Any) -> bool:
    """True in an xdist worker process."""
    return hasattr(config, "workerinput")


def is_controller(config: Any) -> bool:
    """True in the xdist controller of a run with workers (``-n`` more than 0)."""
    return not is_worker(config) and bool(getattr(getattr(config, "option", None), "numprocesses", None))


def parallel(config: Any) -> bool:
    """True on an xdist worker or controller (:func:`is_worker` or :func:`is_controller`)."""
    return is_worker(config) or is_controller(config)


def inherited_run_id(config: Any) -> str | None:
    """The run id the controller handed to this worker; None outside a worker (or from a controller
    without the harness's ``pytest_configure_node``)."""
    inp = getattr(config, "workerinput", None)
    return str(inp[RUN_ID_INPUT]) if inp is not None and inp.get(RUN_ID_INPUT) else None


def owner_pid(config: Any) -> int:
    """The pid that owns this run's resources: the controller's on a worker, else this process's."""
    inp = getattr(config, "workerinput", None)
    if inp is not None and inp.get(OWNER_PID_INPUT):
        return int(inp[OWNER_PID_INPUT])
    return os.getpid()


def unsupported(config: Any) -> str:
    """Why this xdist run cannot run harness tests ("" when it can), as the controller decided it
    (:func:`unsupported_reason`) and handed to the worker; on the controller, decided here."""
    inp = getattr(config, "workerinput", None)
    if inp is not None:
        return str(inp.get(UNSUPPORTED_INPUT, ""))
    return unsupported_reason(getattr(config.option, "dist", "load"), getattr(config.option, "tx", None) or ())


def unsupported_reason(dist: str, tx: Any) -> str:
    """Why harness tests cannot run under these xdist settings; "" when they can.

    Args:
        dist: ``--dist`` (``load``, ``loadscope``, ``loadfile``, ``loadgroup``, ``worksteal``, ``each``, ``no``).
        tx: the ``--tx`` gateway specs (``popen``, ``ssh=host``, ``socket=...``); ``-n`` alone gives local ones.

    Pure: the locks that share the cluster are files on this host, and ``each`` runs every test on every worker.
    """
    if dist == "each":
        return "--dist each runs every test on every worker: each scenario would run once per worker on one cluster"
    remote = [str(t) for t in tx if not str(t).split("//")[0].startswith("popen")]
    if remote:
        return (f"--tx {remote[0]} starts a worker on another host: the workers share one cluster through "
                "file locks on this host")
    return ""


def output_path(config: Any, artifacts_dir: Path, name: str) -> Path:
    """Where this process writes a run-wide file ``name`` (``timings.json``, ``scenarios.json``):
    ``<artifacts>/<name>``, on a worker ``<artifacts>/workers/<worker id>/<name>``."""
    wid = worker_id(config)
    return Path(artifacts_dir) / (Path(WORKERS_DIR) / wid / name if wid else Path(name))


LOCK_WAIT = 1800.0
"""Seconds a worker waits at most for a shared lock (the cluster being created, the add-ons being
installed, a declared resource another worker's test holds) before its test fails naming the holder."""
OUTPUT_KEY = plan.WORKER_OUTPUT_KEY
"""The key of the harness's facts in a worker's ``workeroutput`` (read by the controller)."""


def lock_scope(cfg: Any) -> str:
    """The lock directory's name for the run's cluster: the kind cluster's name, ``external`` for
    a kubeconfig (harness/core/locks.py ``lock_dir``)."""
    return "external" if getattr(cfg, "external_cluster", False) else str(cfg.cluster_name)


def holder(config: Any, who: str) -> Holder:
    """A lock holder record for this process: ``who`` (a test id, ``cluster create``) and the worker."""
    return Holder(who=who, worker=worker_name(config), pid=os.getpid())


def shared_lock(config: Any, cfg: Any, name: str, who: str) -> AbstractContextManager[Any]:
    """On an xdist worker, hold ``<cache>/locks/<scope>/<name>`` exclusively (bounded by
    :data:`LOCK_WAIT`); elsewhere nothing (a serial run has no one to share with).

    Raises:
        harness.core.locks.LockTimeout: another worker held it for longer than the bound.
    """
    if not is_worker(config):
        return nullcontext()
    return locks.exclusive(locks.lock_dir(lock_scope(cfg)) / name, holder(config, who), timeout=LOCK_WAIT)


def report(config: Any, key: str, value: Any) -> None:
    """Hand ``value`` (plain data: str, int, float, bool, list, dict) to the controller, which reads
    it when the worker is done (``pytest_testnodedown``); nothing outside a worker."""
    out = getattr(config, "workeroutput", None)
    if out is not None:
        out.setdefault(OUTPUT_KEY, {})[key] = value


def report_exit(config: Any, line: str, code: int) -> None:
    """A worker's session fixture stopped the run (``harness: cluster: ...``, exit ``code``): the
    first such line goes to the controller, which prints it and exits with its code."""
    out = getattr(config, "workeroutput", None)
    if out is not None:
        out.setdefault(OUTPUT_KEY, {}).setdefault("exit", [line, int(code)])


def reported_exit(config: Any) -> tuple[str, int] | None:
    """The stop :func:`report_exit` put in this worker's output: ``(line, exit code)``, or None."""
    return plan.worker_exit(getattr(config, "workeroutput", None))


def cluster_facts(c: Any) -> dict[str, Any]:
    """What the controller needs of a worker's cluster to finish it (name, kubeconfig, context,
    created by this worker, node image, Kubernetes version)."""
    return {"name": str(getattr(c, "name", "")), "kubeconfig": str(getattr(c, "kubeconfig", "")),
            "context": str(getattr(c, "context", "") or ""), "created": bool(getattr(c, "created", False)),
            "node_image": str(getattr(c, "node_image", "") or ""),
            "kubernetes_version": str(getattr(c, "kubernetes_version", "") or "")}
