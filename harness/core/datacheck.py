"""Declared data checks: how the harness writes a record into a chart's application and reads it
back (the contract's ``data`` key), as plain data and pure functions. The scenario layer runs them
(harness/scenario/datacheck.py); nothing here does I/O.

Schema (in harness-contract.yaml)::

    data:
      write:                               # one step: http, sql or exec
        http:
          method: POST                     # default GET
          path: /items                     # sent through the edge with the release's host
          body: {value: "{token}"}         # a mapping or list is sent as JSON; a string as it is
                                           # (then name its Content-Type in headers)
          headers: {X-Request-Id: "{token}"}            # optional
          expectStatus: [200, 201]         # an integer or a list; default any 2xx
          capture: {id: {json: id}}        # name: {json: dotted.path} or {regex: pattern}
      read:
        http:
          path: /items/{id}
          expectStatus: 200
          expectBody: {json: {value: "{token}"}}
      migrations: {sql: "SELECT count(*) FROM migrations"}   # optional, see below

A step is exactly one of:

``http``   ``method``, ``path``, ``headers``, ``body``, ``expectStatus``, ``expectBody``, ``capture``:
           one request through the edge on 127.0.0.1 with the release's host (as the prober sends).
``sql``    ``statement``, ``expect``, ``capture``: a statement against the harness's PostgreSQL
           database for the release (needs the contract's ``postgres`` block); the output is
           psql's unaligned, tuples-only text (``-At``: one row a line, columns joined by ``|``).
``exec``   ``container`` (default: the pod's first), ``command`` (a list, no shell),
           ``expectStdout``, ``expectExit`` (default 0), ``capture``: a command in a Ready pod of
           the release.

An expectation (``expectBody``, ``expect``, ``expectStdout``) is a string (the output, trimmed of
surrounding whitespace, equals it) or one of ``{equals: s}``, ``{contains: s}``,
``{regex: pattern}`` (searched), ``{json: {dotted.path: s, ...}}`` (each value, as text: strings
as they are, numbers and booleans as JSON writes them). A path segment of digits indexes a list.

Placeholders ``{name}`` in paths, headers, bodies, statements, commands and expectations:
``{token}`` is a fresh unique value per write (letters, digits and ``-``); every name the write
step captures can be used by the read step. A value goes into an http ``path`` percent-encoded,
into a SQL statement with its single quotes doubled (write it inside ``'...'``), elsewhere as it
is. A ``{name}`` that is neither ``token`` nor captured is a contract error.

The write and read steps come together (a write without a read proves nothing). ``migrations``
is a SQL statement whose output is one number: the migration runs recorded so far. The upgrade
scenario reads it before ``helm upgrade`` and after the rollout; the difference must be 1 (it needs
``postgres`` with ``migrationJob: true``).

:func:`parse` validates the block and reports every mistake through the contract's one-line
problem list; :func:`judge` compares what a step observed with what it declared.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

SCHEMA_PATH = Path(__file__).resolve().with_name("datacheck.schema.json")
"""The ``data`` block's JSON Schema (draft 2020-12): its ``$defs`` are named ``data*`` so they can
join the contract's own schema."""
DATA_KEYS = ("write", "read", "migrations")
HTTP_KEYS = ("method", "path", "headers", "body", "expectStatus", "expectBody", "capture")
SQL_KEYS = ("statement", "expect", "capture")
EXEC_KEYS = ("container", "command", "expectStdout", "expectExit", "capture")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
TOKEN = "token"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
EXPECT_KINDS = ("equals", "contains", "regex", "json")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JSON_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
_SHOW = 80  # characters of an answer quoted in a failure line


# --------------------------------------------------------------------------- the declared checks


@dataclass(frozen=True)
class Expect:
    """What a step's output must be: ``kind`` one of :data:`EXPECT_KINDS`; ``text`` the template
    (equals, contains, regex) or ``fields`` ``((dotted.path, template), ...)`` (json)."""

    kind: str
    text: str = ""
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Capture:
    """A value the step hands to later steps as ``{name}``: ``kind`` ``json`` (``source`` a
    dotted path) or ``regex`` (``source`` a pattern: its first group, else the whole match)."""

    name: str
    kind: str
    source: str


@dataclass(frozen=True)
class HttpStep:
    """One request through the edge. ``expect_status`` empty means any 2xx; ``body`` is a
    template string (sent as it is), a mapping or list (sent as JSON), or None."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None
    expect_status: tuple[int, ...] = ()
    expect: Expect | None = None
    captures: tuple[Capture, ...] = ()


@dataclass(frozen=True)
class SqlStep:
    """A statement against the harness's PostgreSQL database for the release."""

    statement: str
    expect: Expect | None = None
    captures: tuple[Capture, ...] = ()


@dataclass(frozen=True)
class ExecStep:
    """A command (argv, no shell) in a Ready pod of the release; ``container`` None: the first."""

    command: tuple[str, ...]
    container: str | None = None
    expect: Expect | None = None
    expect_exit: int = 0
    captures: tuple[Capture, ...] = ()


Step = HttpStep | SqlStep | ExecStep


@dataclass(frozen=True)
class DataCheck:
    """The contract's ``data`` block: ``write`` and ``read`` (both or neither), ``migrations``
    (a SQL statement answering the number of migration runs so far, or None)."""

    write: Step | None = None
    read: Step | None = None
    migrations: str | None = None

    @property
    def declared(self) -> bool:
        """True when a write and a read are declared (the data-integrity criterion can be judged)."""
        return self.write is not None and self.read is not None


# --------------------------------------------------------------------------- templates


def placeholders(text: str) -> list[str]:
    """The ``{name}`` placeholders in ``text``, in order."""
    return PLACEHOLDER.findall(text)


def render(template: str, values: Mapping[str, str], *, escape: Callable[[str], str] | None = None) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]`` (through ``escape`` when
    given); a name without a value is left as it is (the contract's validation refuses those)."""
    def sub(m: re.Match[str]) -> str:
        v = values.get(m.group(1))
        if v is None:
            return m.group(0)
        return escape(v) if escape else v
    return PLACEHOLDER.sub(sub, template)


def render_body(body: Any, values: Mapping[str, str]) -> Any:
    """A JSON body (mapping, list, scalars) with placeholders replaced in every string, keys included."""
    if isinstance(body, str):
        return render(body, values)
    if isinstance(body, Mapping):
        return {render(str(k), values): render_body(v, values) for k, v in body.items()}
    if isinstance(body, list | tuple):
        return [render_body(v, values) for v in body]
    return body


def sql_escape(value: str) -> str:
    """``value`` for the inside of a SQL string literal: single quotes doubled (PostgreSQL docs,
    "String Constants": a single quote within a constant is written as two)."""
    return value.replace("'", "''")


def path_escape(value: str) -> str:
    """``value`` percent-encoded for one URL path segment (``/`` included)."""
    return quote(value, safe="")


def scalar_text(value: Any) -> str:
    """A JSON value as the text it is compared as: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def json_at(doc: Any, path: str) -> tuple[bool, Any]:
    """``(found, value)`` at a dotted ``path`` in a parsed JSON ``doc`` (digits index lists)."""
    cur = doc
    for seg in path.split("."):
        if isinstance(cur, Mapping) and seg in cur:
            cur = cur[seg]
        elif isinstance(cur, list) and seg.isdigit() and int(seg) < len(cur):
            cur = cur[int(seg)]
        else:
            return False, None
    return True, cur


# --------------------------------------------------------------------------- judging an observation


@dataclass(frozen=True)
class Observed:
    """What running a step gave: ``text`` (HTTP body, stdout, psql output), ``status`` (HTTP
    status or exit code; None for SQL), ``error`` (no answer at all: the exception or the
    client's error line), ``stderr`` (exec only)."""

    text: str = ""
    status: int | None = None
    error: str | None = None
    stderr: str = ""


@dataclass(frozen=True)
class StepOutcome:
    """A judged step: ``ok``, ``what`` (``data.read GET /items/7``), ``detail`` (why it failed),
    ``captured`` (the values it captured, for later steps)."""

    ok: bool
    what: str
    detail: str = ""
    captured: Mapping[str, str] = field(default_factory=dict)

    @property
    def line(self) -> str:
        """One line naming the step and what went wrong (the step's name alone when it passed)."""
        return f"{self.what}: {self.detail}" if self.detail else self.what


def _show(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= _SHOW else text[:_SHOW - 3] + "...")


def describe(step: Step, values: Mapping[str, str], *, role: str, pod: str | None = None) -> str:
    """``data.<role> <what the step does>``: ``data.write POST /items``, ``data.read SQL SELECT ...``,
    ``data.read exec in web-1/app: cat /data/x``."""
    if isinstance(step, HttpStep):
        what = f"{step.method} {render(step.path, values, escape=path_escape)}"
    elif isinstance(step, SqlStep):
        sql = " ".join(render(step.statement, values, escape=sql_escape).split())
        what = "SQL " + (sql if len(sql) <= 60 else sql[:57] + "...")
    else:
        where = f"{pod or '?'}{'/' + step.container if step.container else ''}"
        cmd = " ".join(render(a, values) for a in step.command)
        what = f"exec in {where}: " + (cmd if len(cmd) <= 60 else cmd[:57] + "...")
    return f"data.{role} {what}"


def expect_problem(expect: Expect, text: str, values: Mapping[str, str]) -> str | None:
    """Why ``text`` does not meet ``expect`` (None: it does)."""
    if expect.kind == "equals":
        want = render(expect.text, values)
        return None if text.strip() == want.strip() else f"answered {_show(text)} (want {_show(want)})"
    if expect.kind == "contains":
        want = render(expect.text, values)
        return None if want in text else f"answer {_show(text)} does not contain {_show(want)}"
    if expect.kind == "regex":
        pattern = render(expect.text, values, escape=re.escape)
        return None if re.search(pattern, text) else f"answer {_show(text)} does not match /{pattern}/"
    try:
        doc = json.loads(text)
    except ValueError:
        return f"answer is not JSON: {_show(text)}"
    for path, template in expect.fields:
        want = render(template, values)
        found, got = json_at(doc, path)
        if not found:
            return f"JSON has no {path} (want {_show(want)})"
        if scalar_text(got) != want:
            return f"JSON {path} is {_show(scalar_text(got))} (want {_show(want)})"
    return None


def capture(captures: Sequence[Capture], text: str) -> tuple[dict[str, str], str | None]:
    """``({name: value}, problem or None)``: the values the step's captures take from ``text``."""
    out: dict[str, str] = {}
    doc: Any = None
    for c in captures:
        if c.kind == "json":
            if doc is None:
                try:
                    doc = json.loads(text)
                except ValueError:
                    return out, f"answer is not JSON, so {c.name} cannot be captured: {_show(text)}"
            found, got = json_at(doc, c.source)
            if not found or got is None:
                return out, f"JSON has no {c.source} to capture as {c.name}: {_show(text)}"
            out[c.name] = scalar_text(got)
        else:
            m = re.search(c.source, text)
            if m is None:
                return out, f"answer {_show(text)} does not match /{c.source}/ to capture {c.name}"
            out[c.name] = m.group(1) if m.re.groups else m.group(0)
    return out, None


def _want_status(step: Step) -> str:
    if isinstance(step, HttpStep):
        return " or ".join(str(s) for s in step.expect_status) if step.expect_status else "2xx"
    return str(step.expect_exit) if isinstance(step, ExecStep) else ""


def judge(step: Step, seen: Observed, values: Mapping[str, str], *, what: str) -> StepOutcome:
    """Compare what ``step`` observed with what it declares.

    Args:
        step: the declared step. seen: what running it gave. values: the placeholders' values
            (``token`` and earlier captures). what: :func:`describe`'s name of the step.

    Returns:
        :class:`StepOutcome`: failed on no answer, a status / exit code not wanted, an expectation
        not met or a capture not found (in that order, the first problem only); else ok with the
        captured values.
    """
    if seen.error is not None:
        return StepOutcome(False, what, f"no answer ({seen.error})")
    if isinstance(step, HttpStep):
        ok = seen.status in step.expect_status if step.expect_status else (
            seen.status is not None and 200 <= seen.status < 300)
        if not ok:
            return StepOutcome(False, what, f"HTTP {seen.status} (want {_want_status(step)})"
                               + (f": {_show(seen.text)}" if seen.text.strip() else ""))
    elif isinstance(step, ExecStep) and seen.status != step.expect_exit:
        err = (seen.stderr or seen.text).strip().splitlines()
        return StepOutcome(False, what, f"exit {seen.status} (want {step.expect_exit})"
                           + (f": {_show(err[-1])}" if err else ""))
    if step.expect is not None:
        problem = expect_problem(step.expect, seen.text, values)
        if problem:
            return StepOutcome(False, what, problem)
    captured, problem = capture(step.captures, seen.text)
    if problem:
        return StepOutcome(False, what, problem)
    return StepOutcome(True, what, "", captured)


def count_from(text: str) -> int | None:
    """The number a ``migrations`` statement answered (its last line), None when it is not one."""
    lines = text.strip().splitlines()
    try:
        return int(lines[-1].strip()) if lines else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- parsing the contract block

Problem = Callable[[str, str], None]  # (key, message): the contract's one-line problem list


def _text(add: Problem, key: str, value: Any, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            add(key, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str):
        add(key, f"want a string, got {type(value).__name__}")
        return None
    if not value.strip():
        add(key, "is empty")
        return None
    return value


def _mapping(add: Problem, key: str, value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        add(key, f"want a mapping, got {type(value).__name__}")
        return None
    return value


def _known(add: Problem, key: str, m: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for k in m:
        if k not in known:
            add(f"{key}.{k}", f"unknown key; known: {', '.join(known)}")


def _names(add: Problem, key: str, text: str, allowed: Sequence[str]) -> None:
    for name in placeholders(text):
        if name not in allowed:
            add(key, f"unknown placeholder {{{name}}}; known here: "
                     + ", ".join(f"{{{a}}}" for a in allowed))


def _regex(add: Problem, key: str, pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error as exc:
        add(key, f"{pattern!r} is not a regular expression: {exc}")
        return False
    return True


def _expect(add: Problem, key: str, raw: Any, allowed: Sequence[str]) -> Expect | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        _names(add, key, raw, allowed)
        return Expect("equals", raw)
    m = _mapping(add, key, raw)
    if m is None:
        return None
    if len(m) != 1 or next(iter(m)) not in EXPECT_KINDS:
        add(key, f"want a string or exactly one of {', '.join(EXPECT_KINDS)}")
        return None
    kind, value = next(iter(m.items()))
    if kind != "json":
        text = _text(add, f"{key}.{kind}", value)
        if text is None or (kind == "regex" and not _regex(add, f"{key}.regex", render(text, {}))):
            return None
        _names(add, f"{key}.{kind}", text, allowed)
        return Expect(kind, text)
    fields = _mapping(add, f"{key}.json", value)
    if not fields:
        if fields is not None:
            add(f"{key}.json", "is empty")
        return None
    out = []
    for path, want in fields.items():
        if not isinstance(path, str) or not _JSON_PATH.match(path):
            add(f"{key}.json", f"{path!r} is not a dotted JSON path")
            continue
        if isinstance(want, Mapping | list):
            add(f"{key}.json.{path}", "want a string, number, boolean or null")
            continue
        text = scalar_text(want)
        _names(add, f"{key}.json.{path}", text, allowed)
        out.append((path, text))
    return Expect("json", fields=tuple(out)) if len(out) == len(fields) else None


def _captures(add: Problem, key: str, raw: Any) -> tuple[Capture, ...]:
    m = _mapping(add, key, raw)
    if m is None:
        return ()
    out = []
    for name, src in m.items():
        k = f"{key}.{name}"
        if not isinstance(name, str) or not _NAME.match(name) or name == TOKEN:
            add(k, "a capture's name is letters, digits and '_' (not 'token')")
            continue
        s = _mapping(add, k, src)
        if s is None:
            if src is None:
                add(k, "want {json: dotted.path} or {regex: pattern}")
            continue
        if len(s) != 1 or next(iter(s)) not in ("json", "regex"):
            add(k, "want {json: dotted.path} or {regex: pattern}")
            continue
        kind, source = next(iter(s.items()))
        source = _text(add, f"{k}.{kind}", source)
        if source is None:
            continue
        if kind == "json" and not _JSON_PATH.match(source):
            add(f"{k}.json", f"{source!r} is not a dotted JSON path")
            continue
        if kind == "regex" and not _regex(add, f"{k}.regex", source):
            continue
        out.append(Capture(name, kind, source))
    return tuple(out)


def _status(add: Problem, key: str, raw: Any) -> tuple[int, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for s in items:
        if isinstance(s, bool) or not isinstance(s, int) or not 100 <= s <= 599:
            add(key, f"want an HTTP status (100-599) or a list of them, got {s!r}")
            return ()
        out.append(s)
    return tuple(out)


def _http(add: Problem, key: str, m: Mapping[str, Any], allowed: Sequence[str]) -> HttpStep | None:
    _known(add, key, m, HTTP_KEYS)
    method = _text(add, f"{key}.method", m.get("method", "GET"))
    if method is not None and method.upper() not in METHODS:
        add(f"{key}.method", f"{method!r} is not one of {', '.join(METHODS)}")
        method = None
    path = _text(add, f"{key}.path", m.get("path"))
    if path is not None:
        if not path.startswith("/"):
            add(f"{key}.path", f"{path!r} must start with '/'")
            path = None
        else:
            _names(add, f"{key}.path", path, allowed)
    headers: list[tuple[str, str]] = []
    hm = _mapping(add, f"{key}.headers", m.get("headers"))
    for name, value in (hm or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # a YAML number as a header value means its text
        v = _text(add, f"{key}.headers.{name}", value)
        if v is not None:
            _names(add, f"{key}.headers.{name}", v, allowed)
            headers.append((str(name), v))
    body = m.get("body")
    if body is not None:
        if not isinstance(body, str | Mapping | list):
            add(f"{key}.body", f"want a string, a mapping or a list, got {type(body).__name__}")
            body = None
        else:
            _names(add, f"{key}.body", json.dumps(body) if not isinstance(body, str) else body, allowed)
    status = _status(add, f"{key}.expectStatus", m.get("expectStatus"))
    expect = _expect(add, f"{key}.expectBody", m.get("expectBody"), allowed)
    captures = _captures(add, f"{key}.capture", m.get("capture"))
    if method is None or path is None:
        return None
    return HttpStep(method.upper(), path, tuple(headers), body, status, expect, captures)


def _sql(add: Problem, key: str, m: Mapping[str, Any], allowed: Sequence[str]) -> SqlStep | None:
    _known(add, key, m, SQL_KEYS)
    statement = _text(add, f"{key}.statement", m.get("statement"))
    if statement is not None:
        _names(add, f"{key}.statement", statement, allowed)
    expect = _expect(add, f"{key}.expect", m.get("expect"), allowed)
    captures = _captures(add, f"{key}.capture", m.get("capture"))
    return SqlStep(statement, expect, captures) if statement is not None else None


def _exec(add: Problem, key: str, m: Mapping[str, Any], allowed: Sequence[str]) -> ExecStep | None:
    _known(add, key, m, EXEC_KEYS)
    container = _text(add, f"{key}.container", m.get("container"), required=False)
    raw = m.get("command")
    command: list[str] = []
    if not isinstance(raw, list) or not raw or not all(isinstance(a, str) for a in raw):
        add(f"{key}.command", "want a non-empty list of strings (the argv; no shell)")
    else:
        command = list(raw)
        for i, a in enumerate(command):
            _names(add, f"{key}.command[{i}]", a, allowed)
    code = m.get("expectExit", 0)
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
        add(f"{key}.expectExit", f"want an exit code 0-255, got {code!r}")
        code = 0
    expect = _expect(add, f"{key}.expectStdout", m.get("expectStdout"), allowed)
    captures = _captures(add, f"{key}.capture", m.get("capture"))
    return ExecStep(tuple(command), container, expect, code, captures) if command else None


_KINDS = {"http": _http, "sql": _sql, "exec": _exec}


def _step(add: Problem, key: str, raw: Any, allowed: Sequence[str], *, postgres: bool) -> Step | None:
    m = _mapping(add, key, raw)
    if m is None:
        return None
    if len(m) != 1 or next(iter(m)) not in _KINDS:
        add(key, f"want exactly one of {', '.join(_KINDS)} (got {', '.join(map(str, m)) or 'nothing'})")
        return None
    kind, body = next(iter(m.items()))
    if kind == "sql" and not postgres:
        add(f"{key}.sql", "needs the postgres block: the statement runs against the harness's database "
                          "for the release")
    inner = _mapping(add, f"{key}.{kind}", body)
    if inner is None:
        if body is None:
            add(f"{key}.{kind}", "is empty")
        return None
    return _KINDS[kind](add, f"{key}.{kind}", inner, allowed)


def parse(add: Problem, raw: Any, *, postgres: Any) -> DataCheck | None:
    """Validate the contract's ``data`` block (see the module docstring).

    Args:
        add: ``(key, message)``: records one problem (the contract's problem list).
        raw: the block as YAML loaded it (None: not declared).
        postgres: the contract's ``postgres`` block as loaded (not a mapping: the chart takes no
            database; then ``sql`` steps and ``migrations`` are problems; its own mistakes are
            reported by the contract).

    Returns:
        The :class:`DataCheck`, or None when the block is absent or has problems (each one given
        to ``add`` with its key, ``data.read.http.path`` ...).
    """
    m = _mapping(add, "data", raw)
    if m is None:
        return None
    before = _Count(add)
    add = before.add
    _known(add, "data", m, DATA_KEYS)
    has_pg = isinstance(postgres, Mapping)
    write = _step(add, "data.write", m.get("write"), (TOKEN,), postgres=has_pg)
    names = [TOKEN, *(c.name for c in (write.captures if write is not None else ()))]
    read = _step(add, "data.read", m.get("read"), names, postgres=has_pg)
    if (m.get("write") is None) != (m.get("read") is None):
        add("data", "declare write and read together (a write without a read proves nothing)")
    migrations = None
    raw_mig = _mapping(add, "data.migrations", m.get("migrations"))
    if raw_mig is not None:
        _known(add, "data.migrations", raw_mig, ("sql",))
        migrations = _text(add, "data.migrations.sql", raw_mig.get("sql"))
        if migrations is not None:
            _names(add, "data.migrations.sql", migrations, ())
        if not has_pg or postgres.get("migrationJob") is not True:  # type: ignore[union-attr]
            add("data.migrations", "needs the postgres block with migrationJob: true (the upgrade counts "
                                   "the migration runs the hook recorded)")
    if before.count:
        return None
    return DataCheck(write, read, migrations)


class _Count:
    """Counts the problems one parse adds (so a block with problems gives no DataCheck)."""

    def __init__(self, add: Problem):
        self._add = add
        self.count = 0

    def add(self, key: str, msg: str) -> None:
        self.count += 1
        self._add(key, msg)
