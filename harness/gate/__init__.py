"""The release gate: ``python -m harness gate`` (:mod:`.command`) runs the scenarios in a pytest
subprocess that loads :mod:`.plugin`, and turns the outcome into the exit code 0/1/2/3."""
