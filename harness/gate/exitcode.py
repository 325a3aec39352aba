"""The gate's exit code, from pytest's and the status the gate's pytest plugin recorded."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def exit_code(pytest_rc: int, status: Mapping[str, Any] | None) -> tuple[int, str, list[str]]:
    """Map pytest's exit code and the plugin's status to the gate's: ``(code, why, details)``.

    Precedence: interrupted (130) > usage (2: pytest 4, or a harness ``pytest.exit`` with 2) >
    a failed scenario test (1) > the environment (3: a ``pytest.exit`` with any other code from
    session setup, collection errors, EnvironmentNotReady in a test, pytest's internal error, or
    every test skipped) > pass (0).

    With a shard (``status["shard"]``, harness/gate/shard.py), a slice that holds no test of the plan,
    or only tests that skipped, is 0: the slice is not the whole gate, and
    ``python -m harness report merge`` applies "nothing ran" (3) to the joined records.
    """
    st = dict(status or {})
    ex = st.get("exit") or {}
    tests: dict[str, Any] = st.get("tests") or {}
    failed = [n for n, t in tests.items() if t.get("outcome") in ("failed", "error") and not t.get("environment")]
    env = [n for n, t in tests.items() if t.get("environment")]
    passed = [n for n, t in tests.items() if t.get("outcome") == "passed"]
    skipped = [n for n, t in tests.items() if t.get("outcome") == "skipped"]
    ran = len(passed) + len(failed) + len(env)
    msg = str(ex.get("message") or "")
    if ex.get("kind") == "KeyboardInterrupt":
        return 130, "interrupted", []
    if pytest_rc == 4:
        return 2, "pytest rejected the arguments (usage error); see its ERROR line above", []
    if ex.get("kind") == "Exit" and ex.get("returncode") == 2:
        return 2, msg or "usage error", []
    if failed:
        details = [f"{n}: {tests[n].get('message', '')}".rstrip(": ") for n in failed]
        return 1, f"{len(failed)} of {ran} scenario tests failed", details
    if ex.get("kind") == "Exit":
        return 3, msg or f"the session could not be set up (exit {ex.get('returncode')})", []
    if st.get("collect_errors"):
        return 3, "collecting the scenario tests failed", list(st["collect_errors"])
    if env:
        return 3, f"{len(env)} scenario tests could not run: the environment is not ready", \
            [f"{n}: {tests[n].get('message', '')}" for n in env]
    if not st:  # the plugin left no status (it did not load, or pytest died): trust pytest alone
        mapped = {0: 0, 1: 1, 2: 130, 3: 3, 4: 2, 5: 2, 130: 130}.get(pytest_rc, 3)
        return mapped, f"pytest exited {pytest_rc} (no gate status recorded)", []
    if pytest_rc == 3:
        return 3, "pytest internal error (see its INTERNALERROR lines)", []
    shard = st.get("shard") or {}
    if shard and (pytest_rc == 5 or not tests) and shard.get("planned"):
        return 0, (f"shard {shard.get('index')}/{shard.get('count')} holds none of the plan's {shard['planned']} "
                   "scenario tests"), []
    if pytest_rc == 5 or not tests:
        return 2, "no scenario test was selected", []
    if pytest_rc not in (0, 1):
        return 3, f"pytest exited {pytest_rc}", []
    if not passed and shard and pytest_rc == 0:
        return 0, (f"shard {shard.get('index')}/{shard.get('count')}: all {len(skipped)} of its scenario tests were "
                   "skipped (the merged report decides whether anything ran)"), []
    if not passed:
        reasons = sorted({str(tests[n].get("message", "")) for n in skipped})
        return 3, f"nothing ran: all {len(skipped)} selected scenario tests were skipped", reasons
    if pytest_rc == 1:  # e.g. a failure the plugin did not see (a teardown outside the tests)
        return 1, "pytest reported a failure", []
    return 0, f"{len(passed)} scenario tests passed" + (f", {len(skipped)} skipped" if skipped else ""), []
