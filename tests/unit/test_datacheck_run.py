"""The data-check executor (harness/scenario/datacheck.py): HTTP steps against a real server on
127.0.0.1 through the context's edge request, SQL steps against a stand-in for the postgres add-on
(the real one is a container: tests/cluster), exec steps through a stand-in kubectl."""
from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from scenario_fakes import local_server, make_ctx, target

from harness.core import datacheck as dc
from harness.core.errors import CommandError
from harness.scenario import datacheck


def ha_ctx(tmp_path, server):
    """A context for the ha-service chart (its contract declares the items check) whose edge is ``server``."""
    return make_ctx(tmp_path, target("rollback"), scenario="rollback", base_url=server.url)


# --------------------------------------------------------------------------- http, through a real local server


def test_the_demo_check_writes_reads_back_and_writes_again(tmp_path):
    with local_server() as server:
        ctx = ha_ctx(tmp_path, server)
        written = ctx.write_data(2)
        assert [r.values["id"] for r in written.records] == ["1", "2"] and written.last_failure is None
        assert all(server.items[r.values["id"]] == r.values["token"] for r in written.records)
        assert written.records[0].label == f"{written.records[0].values['token']} (id=1)"
        facts = ctx.data_facts(written)
        assert (facts.written, facts.read_failures, facts.write_after) == (
            [r.label for r in written.records], [], None)
        assert len(server.items) == 3 and server.items["3"].startswith("rollback-after-")
        assert ctx.figures["items_written"] == 2


def test_a_value_read_back_wrong_is_one_line_naming_the_read(tmp_path):
    with local_server() as server:
        ctx = ha_ctx(tmp_path, server)
        written = ctx.write_data(2)
        server.items["2"] = "changed"
        facts = ctx.data_facts(written, write_after=False)
    token = written.records[1].values["token"]
    assert facts.read_failures == [f"{token}: data.read GET /items/2: JSON value is 'changed' (want '{token}')"]
    assert len(server.items) == 2  # no write after


def test_writes_that_keep_failing_give_up_in_time_with_the_last_failure(tmp_path):
    with local_server(status=503) as server:
        ctx = ha_ctx(tmp_path, server)
        written = datacheck.write_records(ctx, ctx.contract.data, n=2, timeout=0.3, interval=0.1)
        facts = ctx.data_facts(written)
    assert written.records == [] and written.last_failure.startswith(
        "data.write POST /items: HTTP 503 (want 200 or 201): ")
    assert facts.written == [] and facts.write_failure == written.last_failure


def test_no_declared_check_writes_nothing(tmp_path):
    with local_server() as server:
        ctx = ha_ctx(tmp_path, server)
        ctx.target = replace(ctx.target, chart=replace(ctx.target.chart, contract=replace(ctx.contract, data=None)))
        assert not ctx.data_declared and ctx.write_data(2) is None and ctx.data_facts(None) is None
        assert server.items == {}


class _Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _any(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, dict(self.headers), raw))  # type: ignore[attr-defined]
        body = b"answer 42"
        self.send_response(202)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = _any  # noqa: N815 - http.server's names


@contextmanager
def recorder() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_an_http_step_goes_through_the_edge_with_the_release_host(tmp_path):
    step = dc.HttpStep("PUT", "/kv/{token}", headers=(("X-Token", "{token}"),), body="v={token}",
                       captures=(dc.Capture("n", "regex", r"answer (\d+)"),))
    with recorder() as server:
        ctx = make_ctx(tmp_path, base_url=server.url)
        out = datacheck.run_step(ctx, step, {"token": "a b/c"}, role="write")
    assert out.ok and out.captured == {"n": "42"} and out.what == "data.write PUT /kv/a%20b%2Fc"
    method, path, headers, body = server.seen[0]
    assert (method, path, body) == ("PUT", "/kv/a%20b%2Fc", b"v=a b/c")
    assert headers["Host"] == ctx.host and headers["X-Token"] == "a b/c"


def test_an_http_step_with_no_answer_is_a_failure_not_an_error(tmp_path):
    with recorder() as server:
        url = server.url
    ctx = make_ctx(tmp_path, base_url=url)  # the server is gone: connection refused
    out = datacheck.run_step(ctx, dc.HttpStep("GET", "/"), {"token": "t"}, role="read")
    assert not out.ok and out.line.startswith("data.read GET /: no answer (ConnectionError")


# --------------------------------------------------------------------------- sql, through the add-on's query


class FakePostgres:
    def __init__(self, answers: dict[str, Any]):
        self.answers = answers
        self.databases = {}
        self.calls: list[tuple[str, str]] = []

    def query(self, sql: str, *, database: str, timeout: float = 30.0) -> str:
        self.calls.append((sql, database))
        answer = self.answers[sql]
        if isinstance(answer, Exception):
            raise answer
        return answer


def sql_ctx(tmp_path, pg: FakePostgres):
    ctx = make_ctx(tmp_path, target("rollback"), scenario="rollback")
    pg.databases[ctx.namespace] = SimpleNamespace(database="app_db")
    ctx.env.addons = SimpleNamespace(state={}, addon_state=lambda name: pg)
    return ctx


def test_a_sql_step_runs_in_the_release_database_with_values_quoted(tmp_path):
    stmt = "SELECT value FROM items WHERE value = '{token}'"
    want = "SELECT value FROM items WHERE value = 'it''s'"
    pg = FakePostgres({want: "it's\n"})
    ctx = sql_ctx(tmp_path, pg)
    step = dc.SqlStep(stmt, expect=dc.Expect("equals", "{token}"))
    assert datacheck.run_step(ctx, step, {"token": "it's"}, role="read").ok
    assert pg.calls == [(want, "app_db")]


def test_a_failing_statement_is_no_answer_naming_psql(tmp_path):
    pg = FakePostgres({"SELECT 1": CommandError(["psql"], 1, stderr='ERROR:  relation "items" does not exist')})
    ctx = sql_ctx(tmp_path, pg)
    out = datacheck.run_step(ctx, dc.SqlStep("SELECT 1"), {"token": "t"}, role="read")
    assert not out.ok and out.line.startswith("data.read SQL SELECT 1: no answer (CommandError:")


def test_the_migration_count_comes_from_the_declared_statement(tmp_path):
    pg = FakePostgres({"SELECT count(*) FROM migrations": "2\n"})
    ctx = sql_ctx(tmp_path, pg)
    assert ctx.contract.data.migrations == "SELECT count(*) FROM migrations"  # ha-service declares it
    assert datacheck.migration_count(ctx, ctx.contract.data) == 2
    assert datacheck.migration_count(ctx, None) is None
    assert datacheck.runs_between(1, 2) == 1 and datacheck.runs_between(None, 2) is None
    pg.answers["SELECT count(*) FROM migrations"] = CommandError(["psql"], 2, stderr="connection refused")
    assert datacheck.migration_count(ctx, ctx.contract.data) is None
    pg.databases.clear()  # no database for the namespace
    assert datacheck.migration_count(ctx, dc.DataCheck(migrations="SELECT count(*) FROM migrations")) is None


# --------------------------------------------------------------------------- exec, through kubectl


def _pod(name: str, ready: bool, deleting: bool = False):
    cond = SimpleNamespace(type="Ready", status="True" if ready else "False")
    return SimpleNamespace(metadata=SimpleNamespace(name=name, deletion_timestamp="now" if deleting else None),
                           status=SimpleNamespace(conditions=[cond]))


@pytest.mark.parametrize("code, stdout, ok", [(0, "tok-1\n", True), (0, "other\n", False), (1, "", False)])
def test_an_exec_step_runs_in_the_first_ready_pod(tmp_path, code, stdout, ok):
    calls = []

    def kubectl(*args, namespace=None, timeout=90.0, check=True):
        calls.append((args, namespace, check))
        return SimpleNamespace(returncode=code, stdout=stdout, stderr="boom\n" if code else "")

    ctx = make_ctx(tmp_path)
    ctx.env.kubectl = kubectl
    ctx.pods = lambda **kw: [_pod("web-c", True), _pod("web-a", False), _pod("web-b", True, deleting=True),
                             _pod("web-b2", True)]
    step = dc.ExecStep(("cat", "/data/{token}"), "app", dc.Expect("equals", "{token}"))
    out = datacheck.run_step(ctx, step, {"token": "tok-1"}, role="read")
    assert out.ok is ok
    assert calls == [(("exec", "web-b2", "-c", "app", "--", "cat", "/data/tok-1"), ctx.namespace, False)]
    if code:
        assert out.line == "data.read exec in web-b2/app: cat /data/tok-1: exit 1 (want 0): 'boom'"


def test_an_exec_step_without_a_ready_pod_fails_with_one_line(tmp_path):
    ctx = make_ctx(tmp_path)
    ctx.pods = lambda **kw: [_pod("web-a", False)]
    out = datacheck.run_step(ctx, dc.ExecStep(("true",)), {"token": "t"}, role="read")
    assert out.line == "data.read exec in ?: true: no answer (no Ready pod of the release to exec in)"


def test_tokens_are_unique_and_plain():
    tokens = {datacheck.new_token("rollback") for _ in range(50)}
    assert len(tokens) == 50 and all(json.dumps(t) == f'"{t}"' and t.startswith("rollback-") for t in tokens)
