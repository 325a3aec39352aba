"""The release gate: ``python -m harness gate`` (:mod:`.command`: :mod:`.cli` options, :mod:`.plan`,
:mod:`.preflight`, :mod:`.run`) runs the scenarios in a pytest subprocess that loads :mod:`.plugin`,
turns the outcome into the exit code 0/1/2/3 (:mod:`.exitcode`) and writes the report from the run's
scenario records (:mod:`.header` for its header)."""
