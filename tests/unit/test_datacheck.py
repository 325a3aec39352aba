"""The contract's ``data`` block (harness/core/datacheck.py): parsing through the contract loader,
every mistake on one line naming its key, and the pure judging of what a step observed."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from harness.core import datacheck as dc
from harness.core.contract import load
from harness.core.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
BASE = textwrap.dedent("""\
    release: demo
    ingress: {host: demo.test}
    scenarios: [drain]
    """)
POSTGRES = "postgres: {secretValue: db.secret, secretKeyValue: db.key, migrationJob: true}\n"
ITEMS = textwrap.dedent("""\
    data:
      write:
        http: {method: POST, path: /items, body: {value: "{token}"}, expectStatus: [200, 201],
               capture: {id: {json: id}}}
      read:
        http: {path: "/items/{id}", expectStatus: 200, expectBody: {json: {value: "{token}"}}}
    """)


def contract(tmp_path: Path, text: str):
    (tmp_path / "harness-contract.yaml").write_text(BASE + text)
    return load(tmp_path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(UsageError) as err:
        contract(tmp_path, text)
    return [line.strip() for line in str(err.value).splitlines()[1:]]


# --------------------------------------------------------------------------- parsing


def test_the_demo_chart_declares_its_items_and_migrations():
    c = load(ROOT / "charts-under-test" / "ha-service")
    assert c.data is not None and c.data.declared
    w, r = c.data.write, c.data.read
    assert isinstance(w, dc.HttpStep) and (w.method, w.path, w.body) == ("POST", "/items", {"value": "{token}"})
    assert w.expect_status == (200, 201) and w.captures == (dc.Capture("id", "json", "id"),)
    assert isinstance(r, dc.HttpStep) and (r.method, r.path, r.expect_status) == ("GET", "/items/{id}", (200,))
    assert r.expect == dc.Expect("json", fields=(("value", "{token}"),))
    assert c.data.migrations == "SELECT count(*) FROM migrations"


def test_a_contract_without_data_has_none():
    assert load(ROOT / "charts-under-test" / "realtime").data is None


def test_sql_and_exec_steps(tmp_path):
    c = contract(tmp_path, POSTGRES + textwrap.dedent("""\
        data:
          write:
            exec: {container: app, command: [sh, -c, "echo {token} > /data/x && echo 7"], capture: {n: {regex: '(\\d+)'}}}
          read:
            sql: {statement: "SELECT value FROM items WHERE id = {n} AND value = '{token}'", expect: {contains: "{token}"}}
        """))
    w, r = c.data.write, c.data.read
    assert isinstance(w, dc.ExecStep) and w.container == "app" and w.command[0] == "sh" and w.expect_exit == 0
    assert w.captures == (dc.Capture("n", "regex", r"(\d+)"),)
    assert isinstance(r, dc.SqlStep) and r.expect == dc.Expect("contains", "{token}")


@pytest.mark.parametrize("text, want", [
    ("data: {write: {http: {path: /items}}}\n",
     "data: declare write and read together (a write without a read proves nothing)"),
    ("data: {write: {http: {path: /items}, sql: {statement: x}}, read: {http: {path: /}}}\n",
     "data.write: want exactly one of http, sql, exec (got http, sql)"),
    ("data: {write: {http: {path: items}}, read: {http: {path: /}}}\n",
     "data.write.http.path: 'items' must start with '/'"),
    ("data: {write: {http: {path: /i, method: FETCH}}, read: {http: {path: /}}}\n",
     "data.write.http.method: 'FETCH' is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
    ("data: {write: {http: {path: /i, expectStatus: [201, 700]}}, read: {http: {path: /}}}\n",
     "data.write.http.expectStatus: want an HTTP status (100-599) or a list of them, got 700"),
    ("data: {write: {http: {path: '/i/{id}'}}, read: {http: {path: /}}}\n",
     "data.write.http.path: unknown placeholder {id}; known here: {token}"),
    ("data: {write: {http: {path: /i, capture: {id: {json: id}}}}, read: {http: {path: '/i/{idd}'}}}\n",
     "data.read.http.path: unknown placeholder {idd}; known here: {token}, {id}"),
    ("data: {write: {http: {path: /i, capture: {token: {json: id}}}}, read: {http: {path: /}}}\n",
     "data.write.http.capture.token: a capture's name is letters, digits and '_' (not 'token')"),
    ("data: {write: {http: {path: /i, capture: {id: {xpath: id}}}}, read: {http: {path: /}}}\n",
     "data.write.http.capture.id: want {json: dotted.path} or {regex: pattern}"),
    ("data: {write: {http: {path: /i, capture: {id: {regex: '('}}}}, read: {http: {path: /}}}\n",
     "data.write.http.capture.id.regex: '(' is not a regular expression: missing ), unterminated subpattern at position 0"),
    ("data: {write: {http: {path: /i}}, read: {http: {path: /, expectBody: {startsWith: x}}}}\n",
     "data.read.http.expectBody: want a string or exactly one of equals, contains, regex, json"),
    ("data: {write: {http: {path: /i}}, read: {http: {path: /, expectBody: {json: {value: [1]}}}}}\n",
     "data.read.http.expectBody.json.value: want a string, number, boolean or null"),
    ("data: {write: {http: {path: /i, bogus: 1}}, read: {http: {path: /}}}\n",
     "data.write.http.bogus: unknown key; known: method, path, headers, body, expectStatus, expectBody, capture"),
    ("data: {write: {exec: {command: []}}, read: {http: {path: /}}}\n",
     "data.write.exec.command: want a non-empty list of strings (the argv; no shell)"),
    ("data: {write: {exec: {command: [x], expectExit: 300}}, read: {http: {path: /}}}\n",
     "data.write.exec.expectExit: want an exit code 0-255, got 300"),
    ("data: {write: {http: {path: /i}}, read: {sql: {statement: SELECT 1}}}\n",
     "data.read.sql: needs the postgres block: the statement runs against the harness's database for the release"),
    ("data: {migrations: {sql: SELECT count(*) FROM m}}\n",
     "data.migrations: needs the postgres block with migrationJob: true (the upgrade counts the migration runs "
     "the hook recorded)"),
    ("data: {write: {http: {path: /i}}, read: {http: {path: /}}, extra: 1}\n",
     "data.extra: unknown key; known: write, read, migrations"),
    ("data: [1]\n", "data: want a mapping, got list"),
])
def test_every_mistake_is_one_line_naming_its_key(tmp_path, text, want):
    assert want in problems(tmp_path, text)


def test_all_mistakes_of_the_block_are_reported_at_once(tmp_path):
    got = problems(tmp_path, "data: {write: {http: {path: items, expectStatus: 9}}, read: {exec: {command: 1}}}\n")
    assert [g.split(":")[0] for g in got] == ["data.write.http.path", "data.write.http.expectStatus",
                                              "data.read.exec.command"]


# --------------------------------------------------------------------------- templates


def test_placeholders_are_escaped_where_they_go():
    values = {"token": "t-1", "id": "a/b 'c'"}
    assert dc.render("/items/{id}", values, escape=dc.path_escape) == "/items/a%2Fb%20%27c%27"
    assert dc.render("SELECT 1 WHERE v = '{id}'", values, escape=dc.sql_escape) == "SELECT 1 WHERE v = 'a/b ''c'''"
    assert dc.render('{"value": "{token}"} {other}', values) == '{"value": "t-1"} {other}'
    assert dc.render_body({"value": "{token}", "n": 1, "l": ["{id}"]}, values) == {
        "value": "t-1", "n": 1, "l": ["a/b 'c'"]}


def test_json_paths_index_objects_and_lists():
    doc = {"data": {"items": [{"id": 7}, {"id": 8, "ok": True}]}}
    assert dc.json_at(doc, "data.items.1.id") == (True, 8)
    assert dc.json_at(doc, "data.items.2.id") == (False, None)
    assert dc.json_at(doc, "data.nope") == (False, None)
    assert dc.scalar_text(True) == "true" and dc.scalar_text(7) == "7" and dc.scalar_text("7") == "7"


# --------------------------------------------------------------------------- judging


READ = dc.HttpStep("GET", "/items/{id}", expect_status=(200,), expect=dc.Expect("json", fields=(("value", "{token}"),)))
WRITE = dc.HttpStep("POST", "/items", body={"value": "{token}"}, expect_status=(200, 201),
                    captures=(dc.Capture("id", "json", "id"),))
VALUES = {"token": "rollback-1a2b", "id": "7"}


def _judge(step, seen, values=VALUES, role="read"):
    return dc.judge(step, seen, values, what=dc.describe(step, values, role=role))


def test_a_read_that_matches_passes_and_a_write_captures():
    assert _judge(READ, dc.Observed(json.dumps({"id": 7, "value": "rollback-1a2b"}), 200)).ok
    w = _judge(WRITE, dc.Observed('{"id": 12}', 201), {"token": "x"}, role="write")
    assert w.ok and w.captured == {"id": "12"} and w.what == "data.write POST /items"


@pytest.mark.parametrize("seen, line", [
    (dc.Observed('{"id": 7, "value": "other"}', 200),
     "data.read GET /items/7: JSON value is 'other' (want 'rollback-1a2b')"),
    (dc.Observed('{"error": "no such item"}', 404),
     """data.read GET /items/7: HTTP 404 (want 200): '{"error": "no such item"}'"""),
    (dc.Observed('{"id": 7}', 200), "data.read GET /items/7: JSON has no value (want 'rollback-1a2b')"),
    (dc.Observed("<html>oops</html>", 200), "data.read GET /items/7: answer is not JSON: '<html>oops</html>'"),
    (dc.Observed(error="ConnectionError: refused"), "data.read GET /items/7: no answer (ConnectionError: refused)"),
])
def test_a_read_that_does_not_match_fails_with_one_line_naming_the_step(seen, line):
    out = _judge(READ, seen)
    assert not out.ok and out.line == line and "\n" not in out.line


def test_a_write_without_the_captured_value_fails():
    out = _judge(WRITE, dc.Observed('{"ok": true}', 201), {"token": "x"}, role="write")
    assert not out.ok and out.line == """data.write POST /items: JSON has no id to capture as id: '{"ok": true}'"""
    assert not _judge(WRITE, dc.Observed("", 501), {"token": "x"}, role="write").ok


def test_sql_and_exec_outcomes():
    sql = dc.SqlStep("SELECT value FROM items WHERE id = {id}", expect=dc.Expect("equals", "{token}"))
    assert _judge(sql, dc.Observed("rollback-1a2b\n")).ok
    bad = _judge(sql, dc.Observed(""))
    assert bad.line == "data.read SQL SELECT value FROM items WHERE id = 7: answered '' (want 'rollback-1a2b')"
    ex = dc.ExecStep(("cat", "/data/{token}"), "app", dc.Expect("regex", "^{token}$"))
    what = dc.describe(ex, VALUES, role="read", pod="web-1")
    assert what == "data.read exec in web-1/app: cat /data/rollback-1a2b"
    assert dc.judge(ex, dc.Observed("rollback-1a2b\n", 0), VALUES, what=what).ok
    failed = dc.judge(ex, dc.Observed("", 1, stderr="cat: /data/x: No such file\n"), VALUES, what=what)
    assert failed.line == "data.read exec in web-1/app: cat /data/rollback-1a2b: exit 1 (want 0): 'cat: /data/x: No such file'"
    other = dc.judge(ex, dc.Observed("rollback-1a2b-x", 0), VALUES, what=what)
    assert not other.ok and re.search(r"does not match /\^rollback\\-1a2b\$/", other.detail)


def test_a_regex_expectation_takes_values_literally():
    step = dc.SqlStep("SELECT 1", expect=dc.Expect("regex", "id={id}$"))
    assert dc.judge(step, dc.Observed("id=a.b"), {"id": "a.b"}, what="w").ok
    assert not dc.judge(step, dc.Observed("id=axb"), {"id": "a.b"}, what="w").ok


def test_count_from_psql_output():
    assert dc.count_from("3\n") == 3 and dc.count_from("") is None and dc.count_from("x") is None


# --------------------------------------------------------------------------- the JSON Schema


def test_the_schema_names_what_the_parser_reads():
    schema = json.loads(dc.SCHEMA_PATH.read_text())
    defs = schema["$defs"]
    assert tuple(schema["properties"]) == dc.DATA_KEYS
    assert tuple(defs["dataHttp"]["properties"]) == dc.HTTP_KEYS
    assert tuple(defs["dataSql"]["properties"]) == dc.SQL_KEYS
    assert tuple(defs["dataExec"]["properties"]) == dc.EXEC_KEYS
    assert tuple(defs["dataHttp"]["properties"]["method"]["enum"]) == dc.METHODS
    assert tuple(defs["dataExpect"]["oneOf"][1]["properties"]) == dc.EXPECT_KINDS
    assert all(name.startswith("data") for name in defs)  # they join the contract schema's $defs


@pytest.mark.parametrize("block, valid", [
    (None, True),  # the demo chart's block
    ({"write": {"http": {"path": "/x"}}}, False),  # write without read
    ({"write": {"http": {"path": "/x"}, "sql": {"statement": "s"}}, "read": {"http": {"path": "/"}}}, False),
    ({"write": {"exec": {"command": ["true"], "capture": {"token": {"json": "a"}}}},
      "read": {"http": {"path": "/"}}}, False),
    ({"write": {"exec": {"command": ["true"]}}, "read": {"sql": {"statement": "s", "expect": {"json": {"a.0": 1}}}}},
     True),
])
def test_the_schema_accepts_and_refuses_like_the_parser(block, valid):
    jsonschema = pytest.importorskip("jsonschema")  # a dependency of the contract's own schema check
    import yaml

    if block is None:
        block = yaml.safe_load((ROOT / "charts-under-test" / "ha-service" / "harness-contract.yaml").read_text())["data"]
    validator = jsonschema.Draft202012Validator(json.loads(dc.SCHEMA_PATH.read_text()))
    assert validator.is_valid(block) is valid
