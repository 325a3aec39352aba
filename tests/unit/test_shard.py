"""``gate --shard I/N`` (harness/gate/shard.py and the gate plugin's selection): every test in exactly
one shard for any N, the same slices in every job whatever the collection order, shared runs keeping
their targets together per shard, and a bad ``--shard`` as one line."""
from __future__ import annotations

import os
import random
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from harness.__main__ import build_parser
from harness.core.errors import UsageError
from harness.gate.exitcode import exit_code
from harness.gate.plan import make_plan
from harness.gate.plugin import GatePlugin, item_key
from harness.gate.run import build_pytest_argv
from harness.gate.shard import Shard, assign, parse_shard, select, unit_key
from harness.scenario.targets import targets_for

ROOT = Path(__file__).resolve().parents[2]
CHARTS = [ROOT / "charts-under-test" / "realtime", ROOT / "charts-under-test" / "ha-service"]


@pytest.fixture(autouse=True)
def _no_harness_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)


def plan_keys() -> list[str]:
    """The gate's tests over both charts under test, with their negative controls and db_outage's faults."""
    plan = make_plan(build_parser().parse_args(["gate", *(a for c in CHARTS for a in ("--chart", str(c))),
                                                "--controls"]))
    keys = []
    for s in plan.scenarios:
        for negative in (False, True):
            for t in targets_for(s, plan.charts, negative=negative):
                faults = ("stop", "pause", "disconnect") if s == "db_outage" else (None,)
                keys += [unit_key(s, t.id, f, control=negative) for f in faults]
    return keys


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_every_test_lands_in_exactly_one_shard(n):
    keys = plan_keys()
    assert len(keys) > 10 and len(set(keys)) == len(keys)
    slices = [select(keys, Shard(i, n)) for i in range(1, n + 1)]
    assert sorted(k for s in slices for k in s) == sorted(keys)  # each exactly once
    sizes = [len(s) for s in slices]
    assert max(sizes) - min(sizes) <= 1  # round-robin: balanced, no shard left empty by chance


def test_the_slices_do_not_depend_on_collection_order():
    keys = plan_keys()
    first = assign(keys, 3)
    for seed in range(5):
        shuffled = keys[:]
        random.Random(seed).shuffle(shuffled)
        assert assign(shuffled, 3) == first
    # pinned: a changed rule would split differently from jobs still running the old harness
    assert assign(["b", "a", "d", "c", "e"], 2) == {"a": 1, "b": 2, "c": 1, "d": 2, "e": 1}
    assert assign(["a", "a", "b"], 2) == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="at least 1"):
        assign(keys, 0)


def test_unit_keys_name_scenario_target_fault_and_control():
    assert unit_key("upgrade", "realtime-default") == "upgrade/realtime-default"
    assert unit_key("db_outage", "ha-service-default", "stop") == "db_outage/ha-service-default/stop"
    assert unit_key("upgrade", "ha-service-broken-no-pdb", control=True) == "upgrade/ha-service-broken-no-pdb/control"


@pytest.mark.parametrize("text", ["0/2", "3/2", "x", "1/0", "", "1/2/3", "-1/2"])
def test_a_bad_shard_is_a_usage_error(text):
    with pytest.raises(UsageError, match=r"^--shard: "):
        parse_shard(text)
    assert parse_shard(" 2/3 ") == Shard(2, 3) and str(Shard(2, 3)) == "2/3"


@pytest.mark.parametrize("text", ["0/2", "3/2", "x"])
def test_a_bad_shard_option_is_one_line_and_exit_2(text, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["gate", "--chart", str(CHARTS[0]), "--shard", text])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith(f"harness: error: gate: argument --shard: {text!r}")


def test_the_plan_passes_the_shard_to_pytest(tmp_path):
    plan = make_plan(build_parser().parse_args(["gate", "--chart", str(CHARTS[0]), "--shard", "2/3"]))
    assert plan.shard == Shard(2, 3)
    assert "--gate-shard=2/3" in build_pytest_argv(plan, status=tmp_path / "s.json", started=1.0)
    plain = make_plan(build_parser().parse_args(["gate", "--chart", str(CHARTS[0])]))
    assert plain.shard is None
    assert not any(a.startswith("--gate-shard") for a in build_pytest_argv(plain, status=tmp_path / "s", started=1.0))


# --------------------------------------------------------------------------- the plugin's selection


class _Config:
    def __init__(self, **options):
        self.options = {"gate_status": None, "gate_started": 1.0, "gate_scenarios": "", "gate_controls": False,
                        "gate_heartbeat": 60.0, "gate_shard": "", **options}
        self.deselected: list = []
        self.hook = NS(pytest_deselected=lambda items: self.deselected.extend(items))

    def getoption(self, name, default=None):
        return self.options.get(name, default)


def item(scenario: str, target: str, *, fault: str | None = None, control: bool = False) -> NS:
    params = {"broken_target" if control else "target": NS(id=target)}
    if fault is not None:
        params["fault"] = fault
    return NS(module=NS(SCENARIO=scenario), callspec=NS(params=params),
              nodeid=f"scenarios/{scenario}/test_{scenario}.py::test[{target}{'-' + fault if fault else ''}]")


def collected() -> list[NS]:
    return [item("upgrade", "realtime-default"), item("upgrade", "ha-service-default"),
            item("upgrade", "ha-service-broken-no-pdb", control=True),
            item("sse", "realtime-default"), item("sse", "realtime-hpa-tls"), item("sse", "ha-service-default"),
            *(item("db_outage", "ha-service-default", fault=f) for f in ("stop", "pause", "disconnect")),
            item("drain", "ha-service-default")]


def selected(n: int, i: int, **options) -> list[str]:
    cfg = _Config(gate_shard=f"{i}/{n}", **options)
    plugin = GatePlugin(cfg)
    items = collected()
    plugin.pytest_collection_modifyitems(None, cfg, items)
    return [x.nodeid for x in items]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_the_plugin_keeps_each_selected_test_in_one_shard(n):
    positives = [x.nodeid for x in collected() if "broken" not in x.nodeid]
    got = [nid for i in range(1, n + 1) for nid in selected(n, i)]
    assert sorted(got) == sorted(positives)  # the control stays deselected without --controls
    with_controls = [nid for i in range(1, n + 1) for nid in selected(n, i, gate_controls=True)]
    assert sorted(with_controls) == sorted(x.nodeid for x in collected())


def test_a_shard_takes_its_slice_after_the_scenario_selection():
    cfg = _Config(gate_shard="1/2", gate_scenarios="sse")
    plugin = GatePlugin(cfg)
    items = collected()
    plugin.pytest_collection_modifyitems(None, cfg, items)
    assert plugin.planned == 3  # the three sse tests, then every other one of them
    # sorted: ha-service-default (1), realtime-default (2), realtime-hpa-tls (1); kept in collection order
    assert [x.callspec.params["target"].id for x in items] == ["realtime-hpa-tls", "ha-service-default"]
    assert len(cfg.deselected) == len(collected()) - 2


def test_item_keys_come_from_the_scenario_and_parameters():
    assert item_key(item("db_outage", "ha-service-default", fault="stop")) == "db_outage/ha-service-default/stop"
    assert item_key(item("upgrade", "x-broken-y", control=True)) == "upgrade/x-broken-y/control"
    assert item_key(NS(nodeid="tests/test_other.py::test_x")) == "tests/test_other.py::test_x"


def test_an_empty_or_all_skipped_shard_passes_and_the_merge_decides():
    shard = {"index": 5, "count": 5, "planned": 3}
    code, why, _ = exit_code(5, {"tests": {}, "exit": None, "collect_errors": [], "shard": shard})
    assert (code, why) == (0, "shard 5/5 holds none of the plan's 3 scenario tests")
    code, why, _ = exit_code(0, {"tests": {"a": {"outcome": "skipped"}}, "shard": shard})
    assert code == 0 and "merged report decides" in why
    # without a shard the gate's rules stay: nothing selected is 2, everything skipped is 3
    assert exit_code(5, {"tests": {}, "exit": None})[0] == 2
    assert exit_code(0, {"tests": {"a": {"outcome": "skipped"}}})[0] == 3
    assert exit_code(1, {"tests": {"a": {"outcome": "failed"}}, "shard": shard})[0] == 1

