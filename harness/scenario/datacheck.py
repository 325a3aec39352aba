"""Runs a chart's declared data checks (the contract's ``data`` block, harness/core/datacheck.py)
against a release: writes records before a disruption, reads them back after it, and counts the
migration runs the chart's own table recorded.

Each step reaches the release the way its kind says:

* ``http``: one request through the edge on 127.0.0.1 with the release's host, exactly as the
  prober sends (:meth:`harness.scenario.context.ScenarioContext.http`; HTTPS with the contract's
  host as SNI when the Ingress has TLS), no redirects followed;
* ``sql``: psql in the harness's PostgreSQL container against the release namespace's database
  (:meth:`harness.env.addons.postgres.PostgresServer.query`, ``-At`` output);
* ``exec``: ``kubectl exec <pod> [-c <container>] -- <command>`` in the first Ready pod of the
  release's workloads (https://kubernetes.io/docs/reference/kubectl/generated/kubectl_exec/); the
  exit code and stdout are what is judged.

What a step observed is judged by :func:`harness.core.datacheck.judge`; the verdict functions get
:class:`harness.scenario.verdicts.DataFacts` (one line per failure, naming the step) and stay pure.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.datacheck import (
    TOKEN,
    DataCheck,
    ExecStep,
    HttpStep,
    Observed,
    SqlStep,
    Step,
    StepOutcome,
    count_from,
    describe,
    judge,
    path_escape,
    render,
    render_body,
    sql_escape,
)
from harness.k8s.conditions import pod_is_ready
from harness.scenario.verdicts import DataFacts

HTTP_TIMEOUT = 10.0  # seconds for one request of a step (connect and read)
EXEC_TIMEOUT = 30.0  # seconds for one kubectl exec or psql call


def new_token(prefix: str) -> str:
    """A fresh unique value for ``{token}``: ``<prefix>-<12 hex digits>`` (letters, digits, ``-``)."""
    return f"{prefix}-{secrets.token_hex(6)}"


def _error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def observe_http(ctx: Any, step: HttpStep, values: Mapping[str, str]) -> Observed:
    """Send ``step`` through the edge (``ctx.http``): the status and body, or the error."""
    path = render(step.path, values, escape=path_escape)
    headers = {k: render(v, values) for k, v in step.headers}
    kw: dict[str, Any] = {}
    if isinstance(step.body, str):
        kw["body"] = render(step.body, values).encode()
    elif step.body is not None:
        kw["json_body"] = render_body(step.body, values)
    try:
        r = ctx.http(step.method, path, headers=headers, timeout=HTTP_TIMEOUT, **kw)
    except Exception as exc:  # noqa: BLE001 - any transport failure is the step's "no answer"
        return Observed(error=_error(exc))
    return Observed(text=r.text, status=r.status_code)


def observe_sql(ctx: Any, step: SqlStep, values: Mapping[str, str]) -> Observed:
    """Run ``step``'s statement against the release namespace's database (psql ``-At`` output)."""
    return _sql(ctx, render(step.statement, values, escape=sql_escape))


def _sql(ctx: Any, statement: str) -> Observed:
    try:
        server = ctx.postgres
        db = server.databases[ctx.namespace].database
        return Observed(text=server.query(statement, database=db, timeout=EXEC_TIMEOUT))
    except KeyError:
        return Observed(error=f"no harness database for namespace {ctx.namespace}")
    except Exception as exc:  # noqa: BLE001 - psql's error (CommandError) or the add-on missing
        return Observed(error=_error(exc))


def ready_pod(ctx: Any) -> str | None:
    """The first (by name) Ready pod of the release's workloads, None when none is Ready."""
    names = sorted(p.metadata.name for p in ctx.pods() if pod_is_ready(p))
    return names[0] if names else None


def observe_exec(ctx: Any, step: ExecStep, values: Mapping[str, str]) -> tuple[Observed, str | None]:
    """Run ``step``'s command in a Ready pod: ``(exit code and stdout, the pod)``."""
    try:
        pod = ready_pod(ctx)
    except Exception as exc:  # noqa: BLE001 - the pod list failing is the step's "no answer"
        return Observed(error=f"could not list the release's pods: {_error(exc)}"), None
    if pod is None:
        return Observed(error="no Ready pod of the release to exec in"), None
    argv = ["exec", pod, *(["-c", step.container] if step.container else []), "--",
            *(render(a, values) for a in step.command)]
    try:
        res = ctx.env.kubectl(*argv, namespace=ctx.namespace, timeout=EXEC_TIMEOUT, check=False)
    except Exception as exc:  # noqa: BLE001 - kubectl missing, timed out
        return Observed(error=_error(exc)), pod
    return Observed(text=res.stdout or "", status=res.returncode, stderr=res.stderr or ""), pod


def run_step(ctx: Any, step: Step, values: Mapping[str, str], *, role: str) -> StepOutcome:
    """Run one declared step with ``values`` (``token`` and captures) and judge it.

    Args:
        ctx: the :class:`harness.scenario.context.ScenarioContext` (its ``http``, ``postgres``,
            ``pods``, ``env.kubectl``, ``namespace``). role: ``write`` or ``read`` (names the step).

    Returns:
        :class:`harness.core.datacheck.StepOutcome`; never raises for what the release answers.
    """
    pod = None
    if isinstance(step, HttpStep):
        seen = observe_http(ctx, step, values)
    elif isinstance(step, SqlStep):
        seen = observe_sql(ctx, step, values)
    else:
        seen, pod = observe_exec(ctx, step, values)
    return judge(step, seen, values, what=describe(step, values, role=role, pod=pod))


@dataclass(frozen=True)
class Record:
    """One record written: its ``values`` (``token`` and what the write captured) and a ``label``
    for failure lines (``rollback-1a2b3c4d5e6f (id=7)``)."""

    values: Mapping[str, str]

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.values.items() if k != TOKEN)
        return self.values.get(TOKEN, "?") + (f" ({extra})" if extra else "")


@dataclass
class Written:
    """The records written before a disruption, and the write step's last failure line (None
    when every write succeeded)."""

    check: DataCheck
    records: list[Record] = field(default_factory=list)
    last_failure: str | None = None


def write_records(ctx: Any, check: DataCheck, *, n: int = 2, timeout: float = 30.0, interval: float = 1.0,
                  prefix: str | None = None) -> Written:
    """Write ``n`` records with the declared write step, each with a fresh ``{token}``; a failed
    write is retried every ``interval`` seconds until ``timeout`` seconds have passed (the
    release may still be settling behind the edge).

    Returns:
        :class:`Written` (fewer than ``n`` records when the time ran out).
    """
    assert check.write is not None, "write_records needs a declared write step"
    out = Written(check)
    prefix = prefix or getattr(ctx, "scenario", "harness")
    deadline = time.monotonic() + timeout
    while len(out.records) < n and time.monotonic() < deadline:
        values = {TOKEN: new_token(prefix)}
        res = run_step(ctx, check.write, values, role="write")
        if res.ok:
            out.records.append(Record({**values, **res.captured}))
            continue
        out.last_failure = res.line
        time.sleep(interval)
    return out


def read_back(ctx: Any, written: Written) -> list[str]:
    """Read every written record once with the declared read step: one failure line per record
    that did not read back as declared (empty: all intact)."""
    assert written.check.read is not None, "read_back needs a declared read step"
    out = []
    for rec in written.records:
        res = run_step(ctx, written.check.read, rec.values, role="read")
        if not res.ok:
            out.append(f"{rec.values.get(TOKEN)}: {res.line}")
    return out


def data_facts(ctx: Any, written: Written | None, *, write_after: bool = True) -> DataFacts | None:
    """After the disruption: read back what ``written`` holds and (``write_after``) write one
    fresh record. None when no data check is declared (``written`` None): the verdict reports
    "data integrity: not declared".
    """
    if written is None:
        return None
    failures = read_back(ctx, written)
    after = None
    if write_after and written.check.write is not None:
        res = run_step(ctx, written.check.write, {TOKEN: new_token(f"{getattr(ctx, 'scenario', 'harness')}-after")},
                       role="write")
        after = None if res.ok else res.line
    return DataFacts(written=[r.label for r in written.records], read_failures=failures,
                     write_failure=written.last_failure if not written.records else None, write_after=after)


def migration_count(ctx: Any, check: DataCheck | None) -> int | None:
    """The number the declared ``migrations`` statement answers now; None when it is not
    declared, psql failed or the answer is not a number (the verdict then leaves it out)."""
    if check is None or check.migrations is None:
        return None
    seen = _sql(ctx, check.migrations)
    return None if seen.error is not None else count_from(seen.text)


def runs_between(before: int | None, after: int | None) -> int | None:
    """Migration runs recorded between two counts (None when either is unknown)."""
    return None if before is None or after is None else after - before

