"""The pytest names of the harness's options.

Every option of :data:`harness.core.config.OPTIONS` is ``--harness-<key>`` on a pytest command line
(``--harness-keep-cluster always``), so the plugin can be installed beside other pytest plugins.
The historical name ``--<key>`` is kept as an alias, except where another plugin registers the
same option string: pytest-kind (https://pypi.org/project/pytest-kind/, ``pytest_kind/plugin.py``)
adds ``--cluster-name``, ``--keep-cluster`` and ``--kubeconfig`` (and ``--kind-image``,
``--kind-bin``, ``--kind-kubectl-bin``, which no harness option uses), and argparse refuses two
plugins adding the same option string ("conflicting option string"). The ``python -m harness``
commands (gate, config, cluster) are not pytest and keep ``--<key>``; the gate passes
``--harness-<key>`` to its pytest.
"""
from __future__ import annotations

PREFIX = "--harness-"
CLASHING = frozenset({"cluster-name", "keep-cluster", "kubeconfig"})
"""Option keys whose ``--<key>`` pytest-kind also registers: no alias for them under pytest."""


def namespaced(key: str) -> str:
    """The pytest option of config key ``key``: ``keep-cluster`` -> ``--harness-keep-cluster``."""
    return PREFIX + key


def option_strings(key: str) -> tuple[str, ...]:
    """The option strings pytest registers for ``key``: the namespaced name, then ``--<key>``
    unless it clashes (:data:`CLASHING`)."""
    return (namespaced(key),) if key in CLASHING else (namespaced(key), "--" + key)
