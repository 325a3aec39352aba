"""The scenarios' pytest test modules, one package per scenario (``harness/scenarios/<name>/test_<name>.py``),
shipped in the package so an installed harness runs them: ``pytest --pyargs harness.scenarios.upgrade``.

Not to be confused with :mod:`harness.scenario` (singular), the pytest-free scenario *library*
(procedures, steps, verdicts, records) these modules call: each module here is the thin pytest
layer of one scenario. The repository's ``scenarios/<name>/test_<name>.py`` re-export these modules,
so ``pytest scenarios/upgrade`` and ``make e2e`` in a checkout collect the same tests.
"""
