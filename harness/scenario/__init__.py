"""The scenario library, free of pytest.

* One module per scenario, each the procedure answering its question as a short sequence of
  named steps: :mod:`~harness.scenario.upgrade`, :mod:`~harness.scenario.rollback`,
  :mod:`~harness.scenario.drain`, :mod:`~harness.scenario.sse`, :mod:`~harness.scenario.db_outage`.
* What they are built from: :mod:`~harness.scenario.context` (the namespace, helm, the ingress,
  ``finish`` -> the result record), :mod:`~harness.scenario.steps` (named, timed steps),
  :mod:`~harness.scenario.probing` (``probe_while``), :mod:`~harness.scenario.shared` (one long
  phase for several charts), :mod:`~harness.scenario.targets`, :mod:`~harness.scenario.settings`,
  :mod:`~harness.scenario.manifests`.
* What they produce: the pure verdict functions (:mod:`~harness.scenario.verdicts`, with
  :mod:`~harness.scenario.deadlines`: which configured stream deadline an edge applied) and the one
  result record per test (:mod:`~harness.scenario.result`).
"""
