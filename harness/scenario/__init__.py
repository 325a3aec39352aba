"""The scenario library, free of pytest: targets, settings, the context a scenario runs in, manifest
readers and the pure verdict functions (:mod:`harness.scenario.verdicts`)."""
