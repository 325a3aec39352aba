"""Run ownership: who made a resource, whether that run is still alive, and what ``clean`` removes.

Every harness run (a pytest session, a gate run) has one run id, made once
(:func:`harness.k8s.namespaces.new_run_id`) and passed down. What the run creates carries it:

* a kind cluster: an owner record ``<cache>/clusters/<name>/owner.json`` (kind cannot label the
  node containers from its config; the cluster name is the handle and kind labels the nodes
  ``io.x-k8s.kind.cluster=<name>`` itself);
* a Docker container of an add-on: labels ``io.helm-e2e-harness.run-id``, ``.pid`` and ``.host``;
* a namespace: label ``helm-e2e-harness/run-id``;
* the run's own files (private helm home): ``<cache>/runs/<run-id>/``, with the run's owner
  record ``owner.json`` there.

A run is *dead* when its pid is not alive on this host (``os.kill(pid, 0)``) or when it was
recorded on another host. ``python -m harness clean`` removes what dead runs own, never what a
live run owns, and what a run kept on purpose (keep-cluster ``always``/``on-failure``, recorded as
``kept``) only with ``--include-kept``. :func:`decide` is that decision, pure.

This module only reads and writes small JSON files under the cache; it runs no process.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from harness.core.pins import cache_dir

OWNER_FILE = "owner.json"


@dataclass(frozen=True)
class Owner:
    """The run that made a resource.

    Attributes:
        run_id: the run's id (``YYYYmmdd-HHMMSS-xxxx``).
        pid: the process id of the run (the pytest or gate process).
        host: ``socket.gethostname()`` of the machine it ran on.
        started: when the record was written, seconds since the epoch.
        kept: kept on purpose (keep-cluster); ``clean`` removes it only with ``--include-kept``.
    """

    run_id: str
    pid: int
    host: str
    started: float = 0.0
    kept: bool = False


def this_host() -> str:
    """This machine's host name (what owner records compare)."""
    return socket.gethostname()


def owner_now(run_id: str, *, kept: bool = False) -> Owner:
    """An owner record for the current process and ``run_id``."""
    return Owner(run_id=run_id, pid=os.getpid(), host=this_host(), started=round(time.time(), 3), kept=kept)


def write_owner(path: Path, owner: Owner) -> None:
    """Write ``owner`` as JSON to ``path`` (its directory created; replaced atomically). Thread-safe:
    each writer has its own temporary file (concurrent add-on installs may both write the record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(asdict(owner), indent=2) + "\n")
    os.replace(tmp, path)


def read_owner(path: Path) -> Owner | None:
    """The owner record at ``path``; None when it is missing or not a valid record."""
    try:
        data = json.loads(path.read_text())
        return Owner(run_id=str(data["run_id"]), pid=int(data["pid"]), host=str(data["host"]),
                     started=float(data.get("started", 0.0)), kept=bool(data.get("kept", False)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def mark_kept(path: Path, kept: bool = True) -> None:
    """Set the ``kept`` flag of the record at ``path`` (nothing when there is none)."""
    owner = read_owner(path)
    if owner is not None and owner.kept != kept:
        write_owner(path, replace(owner, kept=kept))


def cluster_owner_path(name: str, cache: Path | None = None) -> Path:
    """``<cache>/clusters/<name>/owner.json``: who created kind cluster ``name``."""
    return (cache or cache_dir()) / "clusters" / name / OWNER_FILE


def runs_root(cache: Path | None = None) -> Path:
    """``<cache>/runs``: one directory per run that has files of its own."""
    return (cache or cache_dir()) / "runs"


def run_dir(run_id: str, cache: Path | None = None) -> Path:
    """``<cache>/runs/<run_id>`` (created, mode 0700): the run's helm home and other private files."""
    d = runs_root(cache) / run_id
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    return d


def run_owner(run_id: str, cache: Path | None = None) -> Owner | None:
    """The run record ``<cache>/runs/<run_id>/owner.json`` (None without one; reading creates nothing,
    unlike :func:`run_dir`)."""
    return read_owner(runs_root(cache) / run_id / OWNER_FILE) if run_id else None


def ensure_owner(run_id: str, *, pid: int | None = None, cache: Path | None = None) -> Owner:
    """The run's record ``<cache>/runs/<run_id>/owner.json``, written now (this host, ``pid``, default
    this process's) unless it exists; returns the record in force. An xdist worker passes the
    controller's pid: the controller outlives every worker (harness/plugin/workers.py)."""
    path = run_dir(run_id, cache) / OWNER_FILE
    owner = read_owner(path)
    if owner is None:
        owner = owner_now(run_id)
        if pid is not None:
            owner = replace(owner, pid=pid)
        write_owner(path, owner)
    return owner


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists on this host (``os.kill(pid, 0)``; a process of another
    user counts as alive). A reused pid also counts as alive: ``clean`` errs on keeping."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Resource:
    """One thing a run may have left.

    Attributes:
        kind: ``cluster`` (a kind cluster), ``container`` (a Docker container), ``namespace``
            (in ``cluster``), ``run-dir`` (``<cache>/runs/<id>``).
        name: its name (a namespace's name, a container's name, a run dir's run id).
        owner: the owner record, None when there is none (made by hand, or before run ids).
        cluster: the kind cluster a namespace lives in, or a PostgreSQL add-on container serves ("" otherwise).
    """

    kind: str
    name: str
    owner: Owner | None
    cluster: str = ""

    def label(self) -> str:
        """``cluster harness-x``, ``namespace a-1 in cluster harness``, ``container pg-1 of cluster harness``..."""
        where = f" {'of' if self.kind == 'container' else 'in'} cluster {self.cluster}" if self.cluster else ""
        return f"{self.kind} {self.name}{where}"


@dataclass(frozen=True)
class Decision:
    """What ``clean`` does with one resource: ``remove`` or keep, and why (one line)."""

    resource: Resource
    remove: bool
    why: str
    kept_on_purpose: bool = False


def is_dead(owner: Owner, *, live_pids: Iterable[int], host: str) -> bool:
    """True when ``owner``'s run no longer runs: another host's record, or a pid not in ``live_pids``."""
    return owner.host != host or owner.pid not in set(live_pids)


def owner_gone(owner: Owner) -> bool:
    """:func:`is_dead` for ``owner`` on this host, now (its pid checked with :func:`pid_alive`)."""
    return is_dead(owner, live_pids=[owner.pid] if pid_alive(owner.pid) else [], host=this_host())


def decide(resources: Iterable[Resource], *, live_pids: Iterable[int], host: str,
           include_kept: bool = False, clusters: Iterable[str] | None = None) -> list[Decision]:
    """Decide, for each resource, whether ``clean`` removes it.

    Kept, in this order: no owner record (not the harness's, or older than run ids); a live owner
    (its pid among ``live_pids`` on ``host``); kept on purpose (``owner.kept``) unless
    ``include_kept``, or unless it is a container serving a cluster not among ``clusters`` (kept for
    a cluster that is gone, it serves nothing). Removed: everything else, i.e. what a dead run left.

    Args:
        resources: what was found.
        live_pids: the pids alive on this host (at least those of the resources' owners).
        host: this host's name; a record from another host counts as dead.
        include_kept: remove kept resources of dead runs too.
        clusters: the kind clusters that stay (None: not known, no container counts as serving nothing).

    Returns:
        one Decision per resource, in the order given.
    """
    alive = set(live_pids)
    staying = None if clusters is None else set(clusters)
    out = []
    for r in resources:
        o = r.owner
        if o is None:
            out.append(Decision(r, False, "no owner record (not made by a harness run that records one)"))
        elif not is_dead(o, live_pids=alive, host=host):
            out.append(Decision(r, False, f"run {o.run_id} (pid {o.pid}) is still running"))
        elif o.kept and r.kind == "container" and r.cluster and staying is not None and r.cluster not in staying:
            out.append(Decision(r, True, f"kept by run {o.run_id} for a cluster that is gone"))
        elif o.kept and not include_kept:
            out.append(Decision(r, False, f"kept on purpose by run {o.run_id} (keep-cluster); "
                                          "`python -m harness clean --include-kept` removes it", kept_on_purpose=True))
        else:
            why = f"recorded on host {o.host}" if o.host != host else f"pid {o.pid} is gone"
            out.append(Decision(r, True, f"run {o.run_id} is over ({why})" + (", kept on purpose" if o.kept else "")))
    return out


def drop_spent_run_dirs(decisions: list[Decision]) -> list[Decision]:
    """A kept run's directory (only its owner record by then) is removed once nothing it kept stays:
    no other resource of that run id is among the kept ones. Pure; returns the decisions updated."""
    staying = {d.resource.owner.run_id for d in decisions
               if not d.remove and d.resource.kind != "run-dir" and d.resource.owner is not None}
    out = []
    for d in decisions:
        o = d.resource.owner
        if d.resource.kind == "run-dir" and d.kept_on_purpose and o is not None and o.run_id not in staying:
            d = Decision(d.resource, True, f"run {o.run_id} is over and nothing it kept is left")
        out.append(d)
    return out


def format_decision(d: Decision, *, dry_run: bool = False) -> str:
    """One line: ``removed cluster harness-x: run ... is over (pid 123 is gone)``."""
    verb = ("would remove" if dry_run else "removed") if d.remove else "kept"
    return f"{verb} {d.resource.label()}: {d.why}"
